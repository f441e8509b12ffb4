// Package runstest supports tests of the run store and of its users: an
// in-memory store (Store) and the contract suite (TestStore) that every
// store — *runs.Store against DynamoDB Local, and the in-memory one — must
// pass, so that a service test over the in-memory store tests against the
// rules the services meet in production.
package runstest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/runs"
)

// Contract is what the suite covers: the methods of *runs.Store.
type Contract interface {
	Claim(ctx context.Context, req runs.ClaimRequest) (runs.Run, error)
	Start(ctx context.Context, r contracts.Run, fetchMsg string) (runs.Run, error)
	Continue(ctx context.Context, r contracts.Run, fetchMsg string, hop int) (runs.Run, error)
	StartHop(ctx context.Context, r contracts.Run, fetchMsg string, hop int) (runs.Run, error)
	Yield(ctx context.Context, r contracts.Run, fetchMsg string) error
	Heartbeat(ctx context.Context, r contracts.Run) (time.Time, error)
	Checkpoint(ctx context.Context, r contracts.Run, hop int, state string) error
	BatchWritten(ctx context.Context, r contracts.Run, seq int) (runs.Run, error)
	SetTotals(ctx context.Context, r contracts.Run, batches int, records, bytes int64) (runs.Run, error)
	BeginCommit(ctx context.Context, r contracts.Run) (runs.Run, bool, error)
	FinishCommit(ctx context.Context, r contracts.Run, objects int) error
	Fail(ctx context.Context, r contracts.Run, class, msg string) error
	Release(ctx context.Context, input, reason string, force bool) (runs.Run, error)
	Get(ctx context.Context, input string) (runs.Run, error)
	History(ctx context.Context, input string) ([]runs.Run, error)
	List(ctx context.Context) ([]runs.Run, error)
	HeartbeatEvery() time.Duration
}

var (
	_ Contract = (*runs.Store)(nil)
	_ Contract = (*Store)(nil)
)

// Open returns a new, empty store configured by cfg, reading the time
// from now.
type Open func(t *testing.T, cfg runs.Config, now func() time.Time) Contract

// TestStore runs the contract suite against the stores open returns.
func TestStore(t *testing.T, open Open) {
	for _, tt := range []struct {
		name string
		test func(*testing.T, Open)
	}{
		{"ClaimIsExclusiveUnderConcurrency", testClaimIsExclusiveUnderConcurrency},
		{"ClaimRules", testClaimRules},
		{"StaleAttemptIsFenced", testStaleAttemptIsFenced},
		{"CommitOnlyWhenCompleteAndExactlyOnce", testCommitOnlyWhenCompleteAndExactlyOnce},
		{"StartIsExclusiveAndARestartFencesTheEarlierTry", testStartIsExclusiveAndARestartFencesTheEarlierTry},
		{"ForcedClaimNeedsAnID", testForcedClaimNeedsAnID},
		{"HistoryKeepsEveryAttemptAndOnlyIt", testHistoryKeepsEveryAttemptAndOnlyIt},
		{"Release", testRelease},
		{"CommittingRunIsResumedNotRedecided", testCommittingRunIsResumedNotRedecided},
		{"ContinuationHops", testContinuationHops},
	} {
		t.Run(tt.name, func(t *testing.T) { tt.test(t, open) })
	}
}

// newStore opens a store with a one-minute lease and a clock the test
// moves by hand.
func newStore(t *testing.T, open Open) (Contract, *clock) {
	t.Helper()
	c := &clock{now: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	return open(t, runs.Config{Lease: time.Minute}, c.Now), c
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func req(msg string) runs.ClaimRequest {
	return runs.ClaimRequest{Source: "orders", Window: "2026-11-01", Trigger: "manual", MessageID: msg}
}

func testClaimIsExclusiveUnderConcurrency(t *testing.T, open Open) {
	s, _ := newStore(t, open)
	ctx := context.Background()
	var won atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Claim(ctx, req(fmt.Sprintf("m-%d", i)))
			switch {
			case err == nil:
				won.Add(1)
			case !errors.Is(err, runs.ErrClaimLost):
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("unexpected error: %v", err)
	}
	if won.Load() != 1 {
		t.Fatalf("%d claims won, want exactly 1", won.Load())
	}
	r, err := s.Get(ctx, "orders/2026-11-01")
	if err != nil || r.Attempt != 1 || r.Status != runs.Claimed {
		t.Fatalf("run = %+v, %v", r, err)
	}
}

func testClaimRules(t *testing.T, open Open) {
	ctx := context.Background()
	tests := []struct {
		name        string
		setup       func(t *testing.T, s Contract, c *clock, first runs.Run)
		req         runs.ClaimRequest
		wantAttempt int // 0: the claim must be lost
	}{
		{"live lease blocks", func(*testing.T, Contract, *clock, runs.Run) {}, req("m-2"), 0},
		{"same message gets its own claim back", func(*testing.T, Contract, *clock, runs.Run) {}, req("m-1"), 1},
		{"same message after the fetch started loses", func(t *testing.T, s Contract, _ *clock, first runs.Run) {
			if _, err := s.Start(ctx, first.Ref(), "f-1"); err != nil {
				t.Fatal(err)
			}
		}, req("m-1"), 0},
		{"expired lease is free though the item was never deleted", func(_ *testing.T, _ Contract, c *clock, _ runs.Run) {
			c.Add(time.Minute + 2*time.Second)
		}, req("m-2"), 2},
		{"expired RUNNING lease is free", func(t *testing.T, s Contract, c *clock, first runs.Run) {
			if _, err := s.Start(ctx, first.Ref(), "f-1"); err != nil {
				t.Fatal(err)
			}
			c.Add(time.Minute + 2*time.Second)
		}, req("m-2"), 2},
		{"heartbeat keeps the lease", func(t *testing.T, s Contract, c *clock, first runs.Run) {
			c.Add(50 * time.Second)
			if _, err := s.Heartbeat(ctx, first.Ref()); err != nil {
				t.Fatal(err)
			}
			c.Add(50 * time.Second)
		}, req("m-2"), 0},
		{"failed run is free", func(t *testing.T, s Contract, _ *clock, first runs.Run) {
			if err := s.Fail(ctx, first.Ref(), "permanent", "HTTP 401"); err != nil {
				t.Fatal(err)
			}
		}, req("m-2"), 2},
		{"succeeded run is not rerun by a plain trigger", func(t *testing.T, s Contract, c *clock, first runs.Run) {
			succeed(t, s, first)
			c.Add(time.Hour)
		}, req("m-2"), 0},
		{"succeeded run is rerun when forced", func(t *testing.T, s Contract, _ *clock, first runs.Run) {
			succeed(t, s, first)
		}, forced("m-2", "force-a"), 2},
		{"the same forced rerun runs once", func(t *testing.T, s Contract, _ *clock, first runs.Run) {
			succeed(t, s, first)
			again, err := s.Claim(ctx, forced("m-2", "force-a"))
			if err != nil {
				t.Fatal(err)
			}
			succeed(t, s, again)
		}, forced("m-3", "force-a"), 0},
		{"another forced rerun runs again", func(t *testing.T, s Contract, _ *clock, first runs.Run) {
			succeed(t, s, first)
			again, err := s.Claim(ctx, forced("m-2", "force-a"))
			if err != nil {
				t.Fatal(err)
			}
			succeed(t, s, again)
		}, forced("m-3", "force-b"), 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := newStore(t, open)
			first, err := s.Claim(ctx, req("m-1"))
			if err != nil {
				t.Fatal(err)
			}
			tt.setup(t, s, c, first)
			got, err := s.Claim(ctx, tt.req)
			if tt.wantAttempt == 0 {
				var lost *runs.ClaimLostError
				if !errors.As(err, &lost) || !errors.Is(err, runs.ErrClaimLost) {
					t.Fatalf("claim = %+v, %v; want lost", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("claim: %v", err)
			}
			if got.Attempt != tt.wantAttempt || got.Status != runs.Claimed {
				t.Fatalf("claim = attempt %d %s, want attempt %d CLAIMED", got.Attempt, got.Status, tt.wantAttempt)
			}
			if tt.wantAttempt > 1 && (got.RunID == first.RunID || got.Written != nil || got.BatchesExpected != nil) {
				t.Fatalf("new attempt must start clean: %+v", got)
			}
		})
	}
}

func forced(msg, id string) runs.ClaimRequest {
	r := req(msg)
	r.Force, r.ForceID = true, id
	return r
}

func succeed(t *testing.T, s Contract, r runs.Run) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Start(ctx, r.Ref(), "f-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetTotals(ctx, r.Ref(), 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	commit(t, s, r.Ref(), 0)
}

// commit runs both commit steps, as the writer does around publishing.
func commit(t *testing.T, s Contract, ref contracts.Run, objects int) {
	t.Helper()
	ctx := context.Background()
	if _, won, err := s.BeginCommit(ctx, ref); err != nil || !won {
		t.Fatalf("begin commit = %v, %v", won, err)
	}
	if err := s.FinishCommit(ctx, ref, objects); err != nil {
		t.Fatalf("finish commit: %v", err)
	}
}

func testStaleAttemptIsFenced(t *testing.T, open Open) {
	s, c := newStore(t, open)
	ctx := context.Background()
	old, err := s.Claim(ctx, req("m-1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(ctx, old.Ref(), "f-1"); err != nil {
		t.Fatal(err)
	}
	c.Add(2 * time.Minute) // the old worker paused past its lease
	if _, err := s.Claim(ctx, req("m-2")); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() error{
		"heartbeat":  func() error { _, err := s.Heartbeat(ctx, old.Ref()); return err },
		"start":      func() error { _, err := s.Start(ctx, old.Ref(), "f-1"); return err },
		"batch":      func() error { _, err := s.BatchWritten(ctx, old.Ref(), 0); return err },
		"totals":     func() error { _, err := s.SetTotals(ctx, old.Ref(), 1, 1, 1); return err },
		"checkpoint": func() error { return s.Checkpoint(ctx, old.Ref(), 0, "{}") },
		"commit":     func() error { _, _, err := s.BeginCommit(ctx, old.Ref()); return err },
		"finish":     func() error { return s.FinishCommit(ctx, old.Ref(), 1) },
		"fail":       func() error { return s.Fail(ctx, old.Ref(), "x", "y") },
	} {
		if err := call(); !errors.Is(err, runs.ErrFenced) {
			t.Errorf("%s by the stale attempt: %v, want ErrFenced", name, err)
		}
	}
}

func testCommitOnlyWhenCompleteAndExactlyOnce(t *testing.T, open Open) {
	s, _ := newStore(t, open)
	ctx := context.Background()
	r, err := s.Claim(ctx, req("m-1"))
	if err != nil {
		t.Fatal(err)
	}
	ref := r.Ref()
	if _, err := s.Start(ctx, ref, "f-1"); err != nil {
		t.Fatal(err)
	}
	// Batches out of order and twice; the total arrives in the middle.
	for _, seq := range []int{2, 0, 2} {
		if _, err := s.BatchWritten(ctx, ref, seq); err != nil {
			t.Fatal(err)
		}
	}
	cur, err := s.SetTotals(ctx, ref, 3, 30, 3000)
	if err != nil || cur.Complete() {
		t.Fatalf("after totals: complete=%v err=%v written=%v", cur.Complete(), err, cur.Written)
	}
	if _, won, err := s.BeginCommit(ctx, ref); won || !errors.Is(err, runs.ErrFenced) {
		t.Fatalf("commit of an incomplete run = %v, %v; want refused", won, err)
	}
	cur, err = s.BatchWritten(ctx, ref, 1)
	if err != nil || !cur.Complete() {
		t.Fatalf("after last batch: complete=%v err=%v", cur.Complete(), err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run, won, err := s.BeginCommit(ctx, ref)
			if err != nil || run.Status != runs.Committing {
				t.Errorf("commit: %+v, %v", run, err)
			}
			if won {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d commits won, want 1", wins.Load())
	}
	for range 2 { // finishing twice is harmless
		if err := s.FinishCommit(ctx, ref, 3); err != nil {
			t.Fatal(err)
		}
	}
	final, err := s.Get(ctx, "orders/2026-11-01")
	if err != nil || final.Status != runs.Succeeded || final.Records != 30 || final.Objects != 3 || final.FinishedAt == "" || final.LeaseUntil != 0 {
		t.Fatalf("final = %+v, %v", final, err)
	}
}

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

func testForcedClaimNeedsAnID(t *testing.T, open Open) {
	s, _ := newStore(t, open)
	r := req("m-1")
	r.Force = true
	if _, err := s.Claim(context.Background(), r); err == nil {
		t.Fatal("a forced claim without a force id must be refused")
	}
}

func testHistoryKeepsEveryAttemptAndOnlyIt(t *testing.T, open Open) {
	s, c := newStore(t, open)
	ctx := context.Background()
	first, err := s.Claim(ctx, req("m-1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(ctx, first.Ref(), "f-1"); err != nil {
		t.Fatal(err)
	}
	c.Add(2 * time.Minute) // crashed: the lease expires, a new trigger takes over
	second, err := s.Claim(ctx, req("m-2"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Fail(ctx, second.Ref(), runs.ClassPermanent, "HTTP 401 from the API"); err != nil {
		t.Fatal(err)
	}
	third, err := s.Claim(ctx, runs.ClaimRequest{Source: "orders", Window: "2026-11-01", Trigger: "redrive", MessageID: "m-3"})
	if err != nil {
		t.Fatal(err)
	}
	succeed(t, s, third)

	history, err := s.History(ctx, "orders/2026-11-01")
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		attempt int
		status  runs.Status
		trigger string
		class   string
	}
	var got []row
	for _, h := range history {
		got = append(got, row{h.Attempt, h.Status, h.Trigger, h.ErrorClass})
		if h.Owner == "" || h.ClaimedAt == "" || h.RunID == "" {
			t.Errorf("attempt %d lacks owner, claim time or run id: %+v", h.Attempt, h)
		}
	}
	want := []row{
		{1, runs.Abandoned, "manual", "lease-expired"},
		{2, runs.Failed, "manual", runs.ClassPermanent},
		{3, runs.Succeeded, "redrive", ""},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("history = %v, want %v", got, want)
	}
	runsNow, err := s.List(ctx)
	if err != nil || len(runsNow) != 1 || runsNow[0].Attempt != 3 {
		t.Fatalf("List must return the run item only: %+v, %v", runsNow, err)
	}
}

func testRelease(t *testing.T, open Open) {
	ctx := context.Background()
	tests := []struct {
		name    string
		setup   func(t *testing.T, s Contract, c *clock, r runs.Run)
		force   bool
		wantErr error // nil: released
	}{
		{"live lease refused", func(*testing.T, Contract, *clock, runs.Run) {}, false, runs.ErrLeaseLive},
		{"live lease forced", func(*testing.T, Contract, *clock, runs.Run) {}, true, nil},
		{"expired lease", func(_ *testing.T, _ Contract, c *clock, _ runs.Run) { c.Add(2 * time.Minute) }, false, nil},
		{"finished run", func(t *testing.T, s Contract, _ *clock, r runs.Run) {
			if _, err := s.SetTotals(ctx, r.Ref(), 0, 0, 0); err != nil {
				t.Fatal(err)
			}
			commit(t, s, r.Ref(), 0)
		}, true, runs.ErrNotLive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := newStore(t, open)
			r, err := s.Claim(ctx, req("m-1"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Start(ctx, r.Ref(), "f-1"); err != nil {
				t.Fatal(err)
			}
			tt.setup(t, s, c, r)
			got, err := s.Release(ctx, "orders/2026-11-01", "stuck since Monday", tt.force)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("release = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || got.Status != runs.Failed || got.ErrorClass != runs.ClassReleased || got.LastError != "stuck since Monday" {
				t.Fatalf("release = %+v, %v", got, err)
			}
			// The released worker is fenced, and the input is free.
			if _, err := s.Heartbeat(ctx, r.Ref()); !errors.Is(err, runs.ErrFenced) {
				t.Fatalf("heartbeat after release: %v", err)
			}
			if next, err := s.Claim(ctx, req("m-2")); err != nil || next.Attempt != 2 {
				t.Fatalf("claim after release = %+v, %v", next, err)
			}
		})
	}
}

func testCommittingRunIsResumedNotRedecided(t *testing.T, open Open) {
	s, c := newStore(t, open)
	ctx := context.Background()
	r, err := s.Claim(ctx, req("m-1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(ctx, r.Ref(), "f-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetTotals(ctx, r.Ref(), 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	if _, won, err := s.BeginCommit(ctx, r.Ref()); !won || err != nil {
		t.Fatalf("begin = %v, %v", won, err)
	}
	// The committer crashed; the batch message comes back and finds the run
	// COMMITTING by its attempt: BatchWritten changes nothing and says so,
	// and so does SetTotals.
	cur, err := s.BatchWritten(ctx, r.Ref(), 0)
	if err != nil || cur.Status != runs.Committing || cur.Attempt != r.Attempt || cur.Written != nil {
		t.Fatalf("batch on a committing run = %+v, %v; want the COMMITTING run, unchanged", cur, err)
	}
	cur, err = s.SetTotals(ctx, r.Ref(), 3, 3, 3)
	if err != nil || cur.Status != runs.Committing || cur.Attempt != r.Attempt || *cur.BatchesExpected != 0 {
		t.Fatalf("totals on a committing run = %+v, %v; want the COMMITTING run, unchanged", cur, err)
	}
	if _, won, err := s.BeginCommit(ctx, r.Ref()); won || err != nil {
		t.Fatalf("second begin = %v, %v; want joined, not won", won, err)
	}
	// A COMMITTING run whose committer never comes back is claimable once
	// its lease expires, like any live run.
	c.Add(2 * time.Minute)
	if next, err := s.Claim(ctx, req("m-2")); err != nil || next.Attempt != 2 {
		t.Fatalf("claim of an expired commit = %+v, %v", next, err)
	}
	if err := s.FinishCommit(ctx, r.Ref(), 0); !errors.Is(err, runs.ErrFenced) {
		t.Fatalf("finishing a taken-over commit: %v, want fenced", err)
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
