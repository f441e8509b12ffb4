package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/devstack/devstacktest"
	"github.com/sluice-data/sluice/shared/runs"
)

// fakeDedupe claims every Input of the inputs queue as dedupe does (one
// conditional claim per message, a lost claim dropped) until the test
// ends, and returns the inputs it was asked for, in order.
func fakeDedupe(t *testing.T, st *devstacktest.Stack, store *runs.Store) func() []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu    sync.Mutex
		asked []string
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			res, err := st.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(st.Resources.Inputs.URL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
			if err != nil {
				continue
			}
			for _, m := range res.Messages {
				in, err := contracts.DecodeInput([]byte(aws.ToString(m.Body)))
				if err != nil {
					t.Errorf("dedupe: %v", err)
					continue
				}
				if in.Trigger != contracts.TriggerRedrive || in.Force {
					t.Errorf("dedupe: input %+v, want trigger redrive, not forced", in)
				}
				mu.Lock()
				asked = append(asked, in.Key())
				mu.Unlock()
				_, err = store.Claim(ctx, runs.ClaimRequest{Source: in.Source, Window: in.Window, Trigger: in.Trigger, MessageID: aws.ToString(m.MessageId)})
				if err != nil && !errors.Is(err, runs.ErrClaimLost) {
					t.Errorf("dedupe: claim %s: %v", in.Key(), err)
				}
				if _, err := st.SQS.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(st.Resources.Inputs.URL), ReceiptHandle: m.ReceiptHandle}); err != nil {
					t.Errorf("dedupe: %v", err)
				}
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(asked)
	}
}

func fetchBody(t *testing.T, r runs.Run) string {
	t.Helper()
	b, err := json.Marshal(contracts.NewFetch(r.Ref(), contracts.TriggerSchedule))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A fetch-DLQ message goes only once its input has been claimed anew or is
// SUCCEEDED: one whose run still holds a live lease stays, and redrive says
// why and what to do.
func TestRedriveDeletesOnlyWhatIsTakenUp(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	store, err := runs.New(st.DynamoDB, runs.Config{Table: st.Resources.Table, Lease: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// past claims and starts runs whose lease ran out an hour ago.
	past, err := runs.New(st.DynamoDB, runs.Config{Table: st.Resources.Table, Lease: time.Minute},
		runs.WithClock(func() time.Time { return time.Now().Add(-2 * time.Hour) }))
	if err != nil {
		t.Fatal(err)
	}
	claim := func(s *runs.Store, window string) runs.Run {
		t.Helper()
		r, err := s.Claim(ctx, runs.ClaimRequest{Source: "orders", Window: window, Trigger: "schedule", MessageID: "m-" + window})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	start := func(s *runs.Store, r runs.Run) runs.Run {
		t.Helper()
		r, err := s.Start(ctx, r.Ref(), "f-"+r.Window)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	live := start(store, claim(store, "2026-11-01"))
	failed := start(store, claim(store, "2026-11-02"))
	if err := store.Fail(ctx, failed.Ref(), "retryable", "API kept answering 500"); err != nil {
		t.Fatal(err)
	}
	expired := start(past, claim(past, "2026-11-03"))
	succeeded := start(store, claim(store, "2026-11-04"))
	if _, err := store.SetTotals(ctx, succeeded.Ref(), 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.BeginCommit(ctx, succeeded.Ref()); err != nil {
		t.Fatal(err)
	}
	if _, err := store.FinishCommit(ctx, succeeded.Ref(), 0); err != nil {
		t.Fatal(err)
	}
	stale := claim(past, "2026-11-05") // attempt 1, lease long gone…
	claim(store, "2026-11-05")         // …taken up by attempt 2, live
	noRun := runs.Run{Source: "orders", Window: "2026-11-06", RunID: "r6", Attempt: 1}
	done, err := json.Marshal(contracts.NewDone(succeeded.Ref(), 0, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	liveBody := fetchBody(t, live)
	sendAll(t, st, st.Resources.Fetch.DLQURL, liveBody, fetchBody(t, failed), fetchBody(t, expired),
		fetchBody(t, succeeded), string(done), fetchBody(t, stale), fetchBody(t, noRun))

	asked := fakeDedupe(t, st, store)
	var out bytes.Buffer
	if err := run(ctx, []string{"redrive", "--queue", "fetch", "--wait", "30s"}, &out); err != nil {
		t.Fatalf("redrive: %v\n%s", err, out.String())
	}
	t.Logf("redrive output:\n%s", out.String())

	// Only the message of the live run is left, made visible again at once.
	if left := receive(t, st, st.Resources.Fetch.DLQURL, 2, 2*time.Second); !slices.Equal(left, []string{liveBody}) {
		t.Fatalf("DLQ holds %q, want only the live run's fetch", left)
	}
	// Re-triggered: only the free inputs.
	got := asked()
	slices.Sort(got)
	if want := []string{"orders/2026-11-02", "orders/2026-11-03", "orders/2026-11-06"}; !slices.Equal(got, want) {
		t.Fatalf("inputs re-triggered = %v, want %v", got, want)
	}
	for _, tt := range []struct {
		window  string
		attempt int
		status  runs.Status
	}{
		{"2026-11-01", 1, runs.Running},   // untouched
		{"2026-11-02", 2, runs.Claimed},   // claimed anew
		{"2026-11-03", 2, runs.Claimed},   // claimed anew
		{"2026-11-04", 1, runs.Succeeded}, // not rerun
		{"2026-11-05", 2, runs.Claimed},   // left to its newer attempt
		{"2026-11-06", 1, runs.Claimed},   // claimed for the first time
	} {
		r, err := store.Get(ctx, "orders/"+tt.window)
		if err != nil || r.Attempt != tt.attempt || r.Status != tt.status {
			t.Errorf("orders/%s: %s attempt %d (%v), want %s attempt %d", tt.window, r.Status, r.Attempt, err, tt.status, tt.attempt)
		}
	}
	for _, want := range []string{
		"redrive fetch: 7 DLQ messages (6 inputs): 6 deleted, 1 kept",
		"re-triggered and claimed anew: orders/2026-11-02 (attempt 2), orders/2026-11-03 (attempt 2), orders/2026-11-06 (attempt 1)",
		"SUCCEEDED, not rerun: orders/2026-11-04",
		"taken up by a newer attempt: orders/2026-11-05 (attempt 2)",
		"kept orders/2026-11-01 (1 DLQ message): RUNNING as attempt 1, lease until " + live.LeaseExpiry().Format(time.RFC3339),
		"sluicectl release --force orders/2026-11-01",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// Nothing claims the re-triggered input (dedupe is down): its DLQ message
// stays, and redrive says so — for the fetch and the batches DLQ alike.
func TestRedriveKeepsWhatIsNotClaimed(t *testing.T) {
	for _, queue := range []string{"fetch", "batches"} {
		t.Run(queue, func(t *testing.T) {
			st := setup(t)
			ctx := context.Background()
			store, err := runs.New(st.DynamoDB, runs.Config{Table: st.Resources.Table})
			if err != nil {
				t.Fatal(err)
			}
			r, err := store.Claim(ctx, runs.ClaimRequest{Source: "orders", Window: "2026-11-01", Trigger: "schedule", MessageID: "m"})
			if err != nil {
				t.Fatal(err)
			}
			if err := store.Fail(ctx, r.Ref(), "permanent", "HTTP 404"); err != nil {
				t.Fatal(err)
			}
			body, dlqURL := fetchBody(t, r), st.Resources.Fetch.DLQURL
			if queue == "batches" {
				b, err := json.Marshal(contracts.NewDone(r.Ref(), 1, 10, 100))
				if err != nil {
					t.Fatal(err)
				}
				body, dlqURL = string(b), st.Resources.Batches.DLQURL
			}
			sendAll(t, st, dlqURL, body)

			var out bytes.Buffer
			if err := run(ctx, []string{"redrive", "--queue", queue, "--wait", "2s"}, &out); err != nil {
				t.Fatalf("redrive: %v\n%s", err, out.String())
			}
			for _, want := range []string{
				"redrive " + queue + ": 1 DLQ message (1 input): 0 deleted, 1 kept",
				"kept orders/2026-11-01 (1 DLQ message): re-triggered, not claimed within 2s (FAILED as attempt 1)",
			} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
			if left := receive(t, st, dlqURL, 2, 2*time.Second); !slices.Equal(left, []string{body}) {
				t.Fatalf("DLQ holds %q, want the message", left)
			}
			// The input was sent: dedupe claims it when it runs, and the
			// next redrive then deletes the message.
			bodies := receive(t, st, st.Resources.Inputs.URL, 1, 5*time.Second)
			if len(bodies) != 1 {
				t.Fatalf("%d inputs sent, want 1", len(bodies))
			}
			if in, err := contracts.DecodeInput([]byte(bodies[0])); err != nil || in.Key() != "orders/2026-11-01" {
				t.Fatalf("input %s: %+v, %v", bodies[0], in, err)
			}
		})
	}
}

// Which of an input's DLQ messages it no longer needs, by its run.
func TestNeedless(t *testing.T) {
	now := time.Now()
	live := now.Add(time.Minute).Unix()
	gone := now.Add(-time.Minute).Unix()
	tests := []struct {
		name    string
		p       parked
		attempt int // the message's; 0: its body names none
		want    bool
	}{
		{"SUCCEEDED", parked{run: runs.Run{Status: runs.Succeeded, Attempt: 1}}, 1, true},
		{"SUCCEEDED, message of a lost run item's higher attempt", parked{run: runs.Run{Status: runs.Succeeded, Attempt: 1}}, 4, true},
		{"live lease of the message's attempt", parked{run: runs.Run{Status: runs.Running, Attempt: 2, LeaseUntil: live}}, 2, false},
		{"live lease of a newer attempt", parked{run: runs.Run{Status: runs.Claimed, Attempt: 3, LeaseUntil: live}}, 2, true},
		{"live lease, message names no attempt", parked{run: runs.Run{Status: runs.Running, Attempt: 3, LeaseUntil: live}}, 0, false},
		{"live COMMITTING of the message's attempt", parked{run: runs.Run{Status: runs.Committing, Attempt: 2, LeaseUntil: live}}, 2, false},
		{"expired lease of a newer attempt, not claimed", parked{run: runs.Run{Status: runs.Running, Attempt: 3, LeaseUntil: gone}}, 2, false},
		{"FAILED, not claimed", parked{run: runs.Run{Status: runs.Failed, Attempt: 2}}, 2, false},
		{"no run, not claimed", parked{}, 1, false},
		{"FAILED, claimed anew", parked{run: runs.Run{Status: runs.Failed, Attempt: 2}, claimed: true}, 2, true},
		// The fetcher parked its message while the message's own restart
		// holds the lease: the copy has a new id, but names the original.
		{"live lease of the restart of the message itself, parked copy", parked{run: runs.Run{Status: runs.Running, Attempt: 3, FetchMessage: "f-1", LeaseUntil: live},
			msgs: []consumer.Message{{ID: "copy", Attributes: map[string]string{consumer.AttrMessageID: "f-1"}}}}, 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.p.attempts = []int{tt.attempt}
			if tt.p.msgs == nil {
				tt.p.msgs = []consumer.Message{{ID: "m-1"}}
			}
			if got := tt.p.needless(0, now); got != tt.want {
				t.Fatalf("needless = %v, want %v", got, tt.want)
			}
		})
	}
}
