package main

import (
	"context"
	"errors"
	"testing"

	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/sink"
)

// floorsAt answers HighestAttempt with attempt, or err, and records the
// partitions asked about.
type floorsAt struct {
	attempt int
	err     error
	asked   []sink.Partition
}

func (f *floorsAt) HighestAttempt(_ context.Context, p sink.Partition) (int, error) {
	f.asked = append(f.asked, p)
	return f.attempt, f.err
}

// The claim learns the highest attempt the bucket holds for the input's
// partition, so that an input whose run item was lost (restored,
// replaced, deleted) is numbered above what it already published.
func TestClaimIsNumberedAboveTheBucket(t *testing.T) {
	s3Down := fault.Retryable(errors.New("S3 503"))
	tests := []struct {
		name        string
		floors      floorsAt
		wantAttempt int // 0: no claim, a retryable error
	}{
		{"nothing in the bucket", floorsAt{}, 1},
		{"the bucket holds attempt 7", floorsAt{attempt: 7}, 8},
		{"the bucket cannot be read: retried, nothing claimed", floorsAt{err: s3Down}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClaims(nil)
			f := tt.floors
			h := &handler{pipeline: testPipeline(t), runs: c, floors: &f, out: &fakeSender{}, fetchURL: fetchURL, now: clock}
			err := h.Handle(context.Background(), consumer.Message{ID: "m-1", Body: golden(t, "input.json"), ReceiveCount: 1})
			if want := (sink.Partition{Source: "orders", Hive: "dt=2026-11-01"}); len(f.asked) != 1 || f.asked[0] != want {
				t.Fatalf("asked the bucket about %+v, want %+v", f.asked, want)
			}
			if tt.wantAttempt == 0 {
				if err == nil || fault.IsPermanent(err) || len(c.reqs) != 0 {
					t.Fatalf("Handle = %v with claims %+v; want a retryable error and no claim", err, c.reqs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r, err := c.Get(context.Background(), "orders/2026-11-01")
			if err != nil || r.Attempt != tt.wantAttempt {
				t.Fatalf("run = %+v, %v; want attempt %d", r, err, tt.wantAttempt)
			}
		})
	}
}
