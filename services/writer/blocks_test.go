package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/sluice-data/sluice/services/writer/blocks"
	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/runs/runstest"
	"github.com/sluice-data/sluice/shared/sink"
)

// Batch-mates handled at once through the consumer, blocks of 2: each
// message's outcome is its own. A whole block is one object and both
// batches are counted; a batch-mate that fails to verify is parked alone
// (its permanent failure fails the run) while the other is staged as a
// single part and done — dropped, its run being FAILED, not failed with
// its mate; a block PUT that fails leaves both for redelivery, neither
// counted.
func TestBatchMatesSettleOnTheirOwn(t *testing.T) {
	block := "data/" + partition + "attempt=2/part-000000-000001.jsonl.gz"
	part0 := "data/" + partition + "attempt=2/part-000000.jsonl.gz"
	tests := []struct {
		name          string
		corruptSecond bool
		writeErr      error
		want          []consumer.Outcome
		wantObjects   []string
		wantCounted   []int
		wantStatus    runs.Status
	}{
		{name: "a whole block", want: []consumer.Outcome{consumer.Done, consumer.Done}, wantObjects: []string{block}, wantCounted: []int{0, 1}, wantStatus: runs.Running},
		{name: "a batch-mate that fails to verify", corruptSecond: true, want: []consumer.Outcome{consumer.Done, consumer.Parked},
			wantObjects: []string{part0}, wantStatus: runs.Failed},
		{name: "the block's PUT fails", writeErr: fault.Retryable(errors.New("s3: slow down")),
			want: []consumer.Outcome{consumer.Retry, consumer.Retry}, wantStatus: runs.Running},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
			st := runstest.New(runs.Config{Lease: time.Minute}, func() time.Time { return now })
			run := restartedRun(t, st, &now)
			fs := &fakeSink{objects: map[string][]byte{}, writeErr: tt.writeErr}
			layout := sink.NewLayout("")
			h := &handler{pipeline: demoPipeline(t), runs: st, sink: fs, layout: layout, commits: &fakeCommitter{trace: &trace{}},
				blocks: blocks.New(fs, layout, 2, 300*time.Millisecond, 0)}
			bodies := batchBodies(t, run, 2)
			if tt.corruptSecond {
				c := bytes.Replace(bodies[1], []byte(`"count":3,`), []byte(`"count":2,`), 1)
				if bytes.Equal(c, bodies[1]) {
					t.Fatal("could not corrupt the batch")
				}
				bodies[1] = c
			}
			parker := &recordingParker{}
			got := make([]consumer.Outcome, 2)
			var wg sync.WaitGroup
			for i, body := range bodies {
				wg.Add(1)
				go func() {
					defer wg.Done()
					m := consumer.Message{ID: fmt.Sprint("m-", i), Body: body, ReceiveCount: 1}
					got[i], _ = consumer.Process(context.Background(), zap.NewNop(), consumer.GiveUp(h), parker, m)
				}()
			}
			wg.Wait()
			if !slices.Equal(got, tt.want) {
				t.Errorf("outcomes %v, want %v", got, tt.want)
			}
			var keys []string
			for k := range fs.objects {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if !slices.Equal(keys, tt.wantObjects) {
				t.Errorf("objects %v, want %v", keys, tt.wantObjects)
			}
			cur, err := st.Get(context.Background(), run.Key())
			if err != nil {
				t.Fatal(err)
			}
			counted := slices.Sorted(slices.Values(cur.Written))
			if !slices.Equal(counted, tt.wantCounted) {
				t.Errorf("batches counted %v, want %v", counted, tt.wantCounted)
			}
			if cur.Status != tt.wantStatus {
				t.Errorf("run %s, want %s", cur.Status, tt.wantStatus)
			}
		})
	}
}
