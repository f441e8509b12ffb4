package pipeline

import (
	"strings"
	"testing"

	"github.com/sluice-data/sluice/shared/fault"
)

func testConfig() *Config {
	return &Config{Sources: []Source{
		{Name: "orders", Partition: Partition{Every: Day, Lookback: 1}},
		{Name: "events", Partition: Partition{Every: Hour, Lookback: 2}},
	}}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		name           string
		source, window string
		want           Window
		wantErr        string // a permanent error saying this
	}{
		{"day source", "orders", "2026-11-01", Window{utc("2026-11-01T00:00:00Z"), utc("2026-11-02T00:00:00Z")}, ""},
		{"hour source", "events", "2026-11-01T13", Window{utc("2026-11-01T13:00:00Z"), utc("2026-11-01T14:00:00Z")}, ""},
		{"unknown source", "ghost", "2026-11-01", Window{}, `unknown source "ghost" (not in the pipeline config)`},
		{"hour key of a day source", "orders", "2026-11-01T13", Window{}, `source orders: partition: invalid day key "2026-11-01T13"`},
		{"day key of an hour source", "events", "2026-11-01", Window{}, `source events: partition: invalid hour key "2026-11-01"`},
		{"not a date", "orders", "2026-02-30", Window{}, "source orders: partition: invalid day key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, w, err := testConfig().Lookup(tt.source, tt.window)
			if tt.wantErr != "" {
				if !fault.IsPermanent(err) || !strings.Contains(err.Error(), tt.wantErr) || src != nil {
					t.Fatalf("Lookup = %v, %v; want a permanent error saying %q", src, err, tt.wantErr)
				}
				return
			}
			if err != nil || src == nil || src.Name != tt.source || w != tt.want {
				t.Fatalf("Lookup = %v, %v, %v; want source %s, window %v", src, w, err, tt.source, tt.want)
			}
		})
	}
}
