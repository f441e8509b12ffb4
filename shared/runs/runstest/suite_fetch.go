package runstest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/runs"
)

func testStartIsExclusiveAndARestartFencesTheEarlierTry(t *testing.T, open Open) {
	s, c := newStore(t, open)
	ctx := context.Background()
	claimed, err := s.Claim(ctx, req("m-1"))
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.Start(ctx, claimed.Ref(), "f-1")
	if err != nil || first.Attempt != 1 || first.Status != runs.Running {
		t.Fatalf("start = %+v, %v", first, err)
	}
	// A second fetch message for the same claim (a duplicate hand-off) is fenced.
	if _, err := s.Start(ctx, claimed.Ref(), "f-2"); !errors.Is(err, runs.ErrFenced) {
		t.Fatalf("second fetch message started: %v", err)
	}
	if _, err := s.BatchWritten(ctx, first.Ref(), 0); err != nil {
		t.Fatal(err)
	}
	// The same fetch message again while the first try's lease is live
	// (a visibility timeout later): come back when it expires.
	c.Add(5 * time.Second)
	_, err = s.Start(ctx, claimed.Ref(), "f-1")
	if wait, ok := fault.Delay(err); !ok || wait < 45*time.Second || wait > 57*time.Second {
		t.Fatalf("restart under a live lease = %v (retry after %v), want a retry after the lease", err, wait)
	}
	if held := (*runs.LeaseHeldError)(nil); !errors.As(err, &held) || held.Attempt != first.Attempt {
		t.Fatalf("restart under a live lease = %v, want a *runs.LeaseHeldError naming attempt %d", err, first.Attempt)
	}
	// Once it expired (the first try died): a new attempt, clean.
	c.Add(time.Minute + time.Second)
	second, err := s.Start(ctx, claimed.Ref(), "f-1")
	if err != nil {
		t.Fatal(err)
	}
	// A try that ended with a retryable error yields: its redelivery
	// restarts at once, while the lease still keeps other triggers away.
	if err := s.Yield(ctx, second.Ref(), "f-other"); !errors.Is(err, runs.ErrFenced) {
		t.Fatalf("yield by another message: %v, want fenced", err)
	}
	if err := s.Yield(ctx, second.Ref(), "f-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(ctx, req("m-9")); !errors.Is(err, runs.ErrClaimLost) {
		t.Fatalf("claim of a yielded run under its lease: %v, want lost", err)
	}
	second, err = s.Start(ctx, claimed.Ref(), "f-1")
	if err != nil || second.Attempt != 3 || second.Yielded {
		t.Fatalf("restart after a yield = %+v, %v", second, err)
	}
	if second.Attempt != 3 || second.Written != nil || second.RunID != first.RunID {
		t.Fatalf("restart = %+v", second)
	}
	for name, call := range map[string]func() error{
		"batch":     func() error { _, err := s.BatchWritten(ctx, first.Ref(), 1); return err },
		"heartbeat": func() error { _, err := s.Heartbeat(ctx, first.Ref()); return err },
		"totals":    func() error { _, err := s.SetTotals(ctx, first.Ref(), 2, 2, 2); return err },
	} {
		if err := call(); !errors.Is(err, runs.ErrFenced) {
			t.Errorf("%s of the earlier try: %v, want ErrFenced", name, err)
		}
	}
	if _, err := s.BatchWritten(ctx, second.Ref(), 0); err != nil {
		t.Fatal(err)
	}
	cur, err := s.SetTotals(ctx, second.Ref(), 1, 5, 50)
	if err != nil || !cur.Complete() {
		t.Fatalf("totals = %+v, %v", cur, err)
	}
	commit(t, s, second.Ref(), 1)
	history, err := s.History(ctx, "orders/2026-11-01")
	if err != nil || len(history) != 3 {
		t.Fatalf("history = %+v, %v", history, err)
	}
	if history[0].Status != runs.Abandoned || history[1].Status != runs.Abandoned || history[2].Attempt != 3 || history[2].Status != runs.Succeeded || history[2].Records != 5 {
		t.Fatalf("history = %+v", history)
	}
}

func testContinuationHops(t *testing.T, open Open) {
	s, c := newStore(t, open)
	ctx := context.Background()
	claimed, err := s.Claim(ctx, req("m-1"))
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.Start(ctx, claimed.Ref(), "f-0")
	if err != nil {
		t.Fatal(err)
	}
	ref := first.Ref()
	// A continuation before any checkpoint is refused.
	if _, err := s.StartHop(ctx, ref, "f-1", 1); !errors.Is(err, runs.ErrFenced) {
		t.Fatalf("hop 1 before a checkpoint: %v", err)
	}
	if err := s.Checkpoint(ctx, ref, 0, `{"page":{"page":7}}`); err != nil {
		t.Fatal(err)
	}
	// The same hop cannot be checkpointed twice.
	if err := s.Checkpoint(ctx, ref, 0, `{}`); !errors.Is(err, runs.ErrFenced) {
		t.Fatalf("second checkpoint of hop 0: %v", err)
	}
	hop1, err := s.StartHop(ctx, ref, "f-1", 1)
	if err != nil || hop1.Attempt != ref.Attempt || hop1.Checkpoint != `{"page":{"page":7}}` || hop1.Hops != 1 {
		t.Fatalf("hop 1 = %+v, %v", hop1, err)
	}
	// A second message for the same hop is a duplicate: fenced.
	if _, err := s.StartHop(ctx, ref, "f-1b", 1); !errors.Is(err, runs.ErrFenced) {
		t.Fatalf("duplicate hop 1: %v", err)
	}
	// The first invocation's message coming back late is fenced too.
	if _, err := s.Start(ctx, claimed.Ref(), "f-0"); !errors.Is(err, runs.ErrFenced) {
		t.Fatalf("late hop 0: %v", err)
	}
	// Hop 1's message delivered again after its invocation died: the fetch
	// restarts from scratch as the next attempt, checkpoint forgotten.
	c.Add(2 * time.Minute)
	again, err := s.StartHop(ctx, ref, "f-1", 1)
	if err != nil || again.Attempt != ref.Attempt+1 || again.Checkpoint != "" || again.Hops != 0 {
		t.Fatalf("redelivered hop 1 = %+v, %v", again, err)
	}
}

// A continuation that cannot go on from its checkpoint (cut under another
// config) restarts the fetch itself: the next attempt, clean, at once and
// without waiting for the lease; only the invocation holding the run can.
func testRestartBeginsTheFetchAgainAsTheNextAttempt(t *testing.T, open Open) {
	s, c := newStore(t, open)
	ctx := context.Background()
	claimed, err := s.Claim(ctx, req("m-1"))
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.Start(ctx, claimed.Ref(), "f-0")
	if err != nil {
		t.Fatal(err)
	}
	ref := first.Ref()
	if _, err := s.BatchWritten(ctx, ref, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Checkpoint(ctx, ref, 0, `{"page":{"page":2}}`); err != nil {
		t.Fatal(err)
	}
	hop1, err := s.Continue(ctx, ref, "f-1", 1)
	if err != nil {
		t.Fatal(err)
	}
	// Only the message that holds the run restarts it: not the hand-over's
	// earlier message, not another run's, not a stale attempt. (Each call
	// comes a second later, as calls do: a write stamped at the same
	// instant by the same owner is taken for the store's own retried one.)
	c.Add(time.Second)
	for name, call := range map[string]func() error{
		"earlier message": func() error { _, err := s.Restart(ctx, ref, "f-0", "config changed"); return err },
		"other run": func() error {
			r := ref
			r.RunID = "other"
			_, err := s.Restart(ctx, r, "f-1", "config changed")
			return err
		},
		"stale attempt": func() error { r := ref; r.Attempt--; _, err := s.Restart(ctx, r, "f-1", "config changed"); return err },
	} {
		if err := call(); !errors.Is(err, runs.ErrFenced) {
			t.Errorf("restart by the %s: %v, want fenced", name, err)
		}
	}
	again, err := s.Restart(ctx, hop1.Ref(), "f-1", "config changed: fingerprint a → b")
	if err != nil {
		t.Fatal(err)
	}
	if again.Attempt != ref.Attempt+1 || again.RunID != ref.RunID || again.Status != runs.Running || again.FetchMessage != "f-1" ||
		again.Checkpoint != "" || again.Hops != 0 || again.Taken != 0 || again.Written != nil || again.BatchesExpected != nil {
		t.Fatalf("restart = %+v, want attempt %d RUNNING by f-1, clean", again, ref.Attempt+1)
	}
	// The earlier attempt is fenced, and its restart cannot be repeated.
	c.Add(time.Second)
	if _, err := s.BatchWritten(ctx, ref, 1); !errors.Is(err, runs.ErrFenced) {
		t.Fatalf("batch of the restarted attempt: %v, want fenced", err)
	}
	if _, err := s.Restart(ctx, ref, "f-1", "again"); !errors.Is(err, runs.ErrFenced) {
		t.Fatalf("second restart of attempt %d: %v, want fenced", ref.Attempt, err)
	}
	// The new attempt works as any: it hands over and continues.
	if err := s.Checkpoint(ctx, again.Ref(), 0, `{"page":{"page":3}}`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Continue(ctx, again.Ref(), "f-2", 1); err != nil {
		t.Fatal(err)
	}
	history, err := s.History(ctx, "orders/2026-11-01")
	if err != nil || len(history) != 2 {
		t.Fatalf("history = %+v, %v", history, err)
	}
	if h := history[0]; h.Status != runs.Abandoned || h.ErrorClass != "restarted" || h.LastError != "config changed: fingerprint a → b" {
		t.Fatalf("history of the restarted attempt = %+v, want ABANDONED, restarted, with the reason", h)
	}
	if h := history[1]; h.Attempt != again.Attempt || h.Status != runs.Running {
		t.Fatalf("history of the new attempt = %+v", h)
	}
}

// A checkpoint whose continuation comes only after a wait (an API's
// Retry-After) keeps the input for the wait and one lease more: a claim
// during the wait is lost, the continuation goes on as the same attempt,
// and once the wait and a lease have passed with no continuation (it was
// lost with a crash) the input is free again.
func testADelayedContinuationKeepsTheInput(t *testing.T, open Open) {
	s, c := newStore(t, open)
	ctx := context.Background()
	claimed, err := s.Claim(ctx, req("m-1"))
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.Start(ctx, claimed.Ref(), "f-0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CheckpointFor(ctx, first.Ref(), 0, `{"page":{"page":6}}`, 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	c.Add(10 * time.Minute) // the wait is over; the lease (1 min) runs on
	if _, err := s.Claim(ctx, req("m-2")); !errors.Is(err, runs.ErrClaimLost) {
		t.Fatalf("claim during the wait: %v, want the claim lost", err)
	}
	hop1, err := s.StartHop(ctx, first.Ref(), "f-1", 1)
	if err != nil || hop1.Attempt != first.Attempt || hop1.Checkpoint != `{"page":{"page":6}}` {
		t.Fatalf("delayed hop 1 = %+v, %v", hop1, err)
	}
	if err := s.CheckpointFor(ctx, first.Ref(), 1, `{"page":{"page":7}}`, 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	c.Add(5*time.Minute + 2*time.Minute)
	next, err := s.Claim(ctx, req("m-3"))
	if err != nil || next.Attempt <= first.Attempt {
		t.Fatalf("claim after the wait and a lease = %+v, %v; want a new attempt", next, err)
	}
}

// The batches a stopped hop sent reach the writer while its continuation
// waits: counting them (and the total) renews the lease but never
// shortens the one the checkpoint holds over the wait — a claim during
// the wait is lost, and the continuation goes on as the same attempt.
func testTheWriterCountingDuringAWaitKeepsTheInput(t *testing.T, open Open) {
	s, c := newStore(t, open)
	ctx := context.Background()
	claimed, err := s.Claim(ctx, req("m-1"))
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.Start(ctx, claimed.Ref(), "f-0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CheckpointFor(ctx, first.Ref(), 0, `{"page":{"page":6}}`, 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	c.Add(time.Minute)
	if _, err := s.BatchWritten(ctx, first.Ref(), 4); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetTotals(ctx, first.Ref(), 9, 90, 900); err != nil {
		t.Fatal(err)
	}
	c.Add(9 * time.Minute) // the wait is over; the checkpoint's lease runs on
	if _, err := s.Claim(ctx, req("m-2")); !errors.Is(err, runs.ErrClaimLost) {
		t.Fatalf("claim during the wait, after the writer counted a batch and the total: %v, want the claim lost", err)
	}
	hop1, err := s.StartHop(ctx, first.Ref(), "f-1", 1)
	if err != nil || hop1.Attempt != first.Attempt || !slices.Equal(hop1.Written, []int{4}) {
		t.Fatalf("delayed hop 1 = %+v, %v; want the same attempt with batch 4 counted", hop1, err)
	}
	c.Add(30 * time.Second)
	if _, err := s.BatchWritten(ctx, first.Ref(), 5); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Get(ctx, first.Input); err != nil || r.LeaseUntil != c.Now().Add(time.Minute).Unix() {
		t.Fatalf("lease after a batch once the wait is over = %+v, %v; want renewed to a lease from now", r, err)
	}
}
