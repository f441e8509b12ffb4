package main

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/runs/runstest"
	"github.com/sluice-data/sluice/shared/sink"
)

// recordingParker records what the consumer parks.
type recordingParker struct {
	mu     sync.Mutex
	parked []error
}

func (p *recordingParker) Park(_ context.Context, _ consumer.Message, cause error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.parked = append(p.parked, cause)
	return nil
}

// On its last delivery a writer message that fails retryably is checked
// against its run, as served (consumer.Process behind consumer.GiveUp): a
// message of a run that SUCCEEDED, or whose input a newer attempt owns,
// is deleted, not left for the queue to move to the DLQ without a reason;
// a message of a live run marks it FAILED and is parked with its reason.
func TestLastDeliveryIsCheckedAgainstTheRun(t *testing.T) {
	s3Down := fault.Retryable(errors.New("s3: slow down"))
	tests := []struct {
		name        string
		status      runs.Status // the run's status when the message comes, at attempt+newer
		newer       int         // attempts a later trigger has added since the message's
		receive     int
		want        consumer.Outcome
		wantStatus  runs.Status
		wantParked  bool
		wantAttempt int // the run's attempt afterwards, relative to the message's
	}{
		{name: "run SUCCEEDED: deleted", status: runs.Succeeded, receive: 4, want: consumer.Done, wantStatus: runs.Succeeded},
		{name: "a newer attempt owns the input: deleted", status: runs.Running, newer: 1, receive: 4, want: consumer.Done, wantStatus: runs.Running, wantAttempt: 1},
		{name: "a newer attempt SUCCEEDED: deleted", status: runs.Succeeded, newer: 1, receive: 4, want: consumer.Done, wantStatus: runs.Succeeded, wantAttempt: 1},
		{name: "live run: FAILED, parked with its reason", status: runs.Running, receive: 4, want: consumer.Parked, wantStatus: runs.Failed, wantParked: true},
		{name: "run FAILED already: parked, kept for a redrive", status: runs.Failed, receive: 4, want: consumer.Parked, wantStatus: runs.Failed, wantParked: true},
		{name: "the queue's own last delivery: the same", status: runs.Succeeded, receive: 5, want: consumer.Done, wantStatus: runs.Succeeded},
		{name: "deliveries left: retried", status: runs.Succeeded, receive: 3, want: consumer.Retry, wantStatus: runs.Succeeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := demoPipeline(t)
			now := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
			st := runstest.New(runs.Config{Lease: time.Minute}, func() time.Time { return now })
			run := restartedRun(t, st, &now)
			cur, err := st.Get(context.Background(), run.Key())
			if err != nil {
				t.Fatal(err)
			}
			cur.Attempt, cur.Status = run.Attempt+tt.newer, tt.status
			st.Seed(cur)
			h := &handler{pipeline: p, runs: st, sink: &fakeSink{objects: map[string][]byte{}, writeErr: s3Down},
				layout: sink.NewLayout(""), commits: &fakeCommitter{trace: &trace{}}}
			parker := &recordingParker{}

			// A queue whose maxReceiveCount is 5: the consumer acts on receive 4.
			m := consumer.Message{ID: "m-1", Body: batchBodies(t, run, 1)[0], ReceiveCount: tt.receive, Last: tt.receive >= 4}
			got, _ := consumer.Process(context.Background(), zap.NewNop(), consumer.GiveUp(h), parker, m)
			if got != tt.want {
				t.Fatalf("outcome %v, want %v (parked %v)", got, tt.want, parker.parked)
			}
			if parked := len(parker.parked) == 1; parked != tt.wantParked {
				t.Fatalf("parked %v, want parked: %v", parker.parked, tt.wantParked)
			}
			if tt.wantParked {
				if cause := parker.parked[0]; !errors.Is(cause, consumer.ErrRetriesExhausted) || !strings.Contains(cause.Error(), "s3: slow down") {
					t.Fatalf("parked with %v, want retries exhausted and the S3 error", cause)
				}
			}
			after, err := st.Get(context.Background(), run.Key())
			if err != nil {
				t.Fatal(err)
			}
			if after.Status != tt.wantStatus || after.Attempt != run.Attempt+tt.wantAttempt {
				t.Fatalf("run is attempt %d %s, want attempt %d %s", after.Attempt, after.Status, run.Attempt+tt.wantAttempt, tt.wantStatus)
			}
		})
	}
}
