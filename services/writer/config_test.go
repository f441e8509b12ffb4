package main

import (
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/sluice/shared/service"
)

func TestConfigValidatesBlocks(t *testing.T) {
	tests := []struct {
		name    string
		batches int
		wait    time.Duration
		wantErr string // "" for valid
	}{
		{name: "the default", batches: 4, wait: time.Second},
		{name: "blocks off", batches: 1, wait: 0},
		{name: "eight", batches: 8, wait: 10 * time.Second},
		{name: "not a power of two", batches: 3, wait: time.Second, wantErr: "SLUICE_BLOCK_BATCHES: 3"},
		{name: "too many", batches: 16, wait: time.Second, wantErr: "SLUICE_BLOCK_BATCHES: 16"},
		{name: "none", batches: 0, wait: time.Second, wantErr: "SLUICE_BLOCK_BATCHES: 0"},
		{name: "a long wait", batches: 4, wait: time.Minute, wantErr: "SLUICE_BLOCK_WAIT: 1m0s"},
		{name: "a negative wait", batches: 4, wait: -time.Second, wantErr: "SLUICE_BLOCK_WAIT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config{Config: service.DefaultConfig(), BlockBatches: tt.batches, BlockWait: tt.wait}
			c.PipelineFile, c.DLQURL, c.BatchesURL, c.Bucket = "p.yaml", "dlq", "batches", "bucket"
			c.Runs.Table = "runs"
			err := c.Validate()
			if tt.wantErr == "" && err != nil && strings.Contains(err.Error(), "SLUICE_BLOCK") {
				t.Fatalf("Validate = %v, want no block problem", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Validate = %v, want it to say %q", err, tt.wantErr)
			}
		})
	}
}

func TestBlockSizeFitsTheWorkers(t *testing.T) {
	tests := []struct{ blocks, workers, want int }{
		{4, 5, 4}, {4, 4, 4}, {4, 3, 2}, {8, 5, 4}, {8, 100, 8}, {4, 1, 1}, {1, 10, 1}, {2, 2, 2},
	}
	for _, tt := range tests {
		if got := blockSize(tt.blocks, tt.workers); got != tt.want {
			t.Errorf("blockSize(%d, %d) = %d, want %d", tt.blocks, tt.workers, got, tt.want)
		}
	}
}
