package runs_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/devstack/devstacktest"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/runs"
)

// newStore returns a store over a fresh table in DynamoDB Local, with a
// clock the test moves by hand.
func newStore(t *testing.T) (*runs.Store, *clock) {
	t.Helper()
	st := devstacktest.Start(t, devstackOptions)
	c := &clock{now: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	s, err := runs.New(st.DynamoDB, runs.Config{Table: st.Resources.Table, Lease: time.Minute}, runs.WithClock(c.Now))
	if err != nil {
		t.Fatal(err)
	}
	return s, c
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

func TestClaimIsExclusiveUnderConcurrency(t *testing.T) {
	s, _ := newStore(t)
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

func TestClaimRules(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name        string
		setup       func(t *testing.T, s *runs.Store, c *clock, first runs.Run)
		req         runs.ClaimRequest
		wantAttempt int // 0: the claim must be lost
	}{
		{"live lease blocks", func(*testing.T, *runs.Store, *clock, runs.Run) {}, req("m-2"), 0},
		{"same message gets its own claim back", func(*testing.T, *runs.Store, *clock, runs.Run) {}, req("m-1"), 1},
		{"same message after the fetch started loses", func(t *testing.T, s *runs.Store, _ *clock, first runs.Run) {
			if _, err := s.Start(ctx, first.Ref(), "f-1"); err != nil {
				t.Fatal(err)
			}
		}, req("m-1"), 0},
		{"expired lease is free though the item was never deleted", func(_ *testing.T, _ *runs.Store, c *clock, _ runs.Run) {
			c.Add(time.Minute + 2*time.Second)
		}, req("m-2"), 2},
		{"expired RUNNING lease is free", func(t *testing.T, s *runs.Store, c *clock, first runs.Run) {
			if _, err := s.Start(ctx, first.Ref(), "f-1"); err != nil {
				t.Fatal(err)
			}
			c.Add(time.Minute + 2*time.Second)
		}, req("m-2"), 2},
		{"heartbeat keeps the lease", func(t *testing.T, s *runs.Store, c *clock, first runs.Run) {
			c.Add(50 * time.Second)
			if _, err := s.Heartbeat(ctx, first.Ref()); err != nil {
				t.Fatal(err)
			}
			c.Add(50 * time.Second)
		}, req("m-2"), 0},
		{"failed run is free", func(t *testing.T, s *runs.Store, _ *clock, first runs.Run) {
			if err := s.Fail(ctx, first.Ref(), "permanent", "HTTP 401"); err != nil {
				t.Fatal(err)
			}
		}, req("m-2"), 2},
		{"succeeded run is not rerun by a plain trigger", func(t *testing.T, s *runs.Store, c *clock, first runs.Run) {
			succeed(t, s, first)
			c.Add(time.Hour)
		}, req("m-2"), 0},
		{"succeeded run is rerun when forced", func(t *testing.T, s *runs.Store, _ *clock, first runs.Run) {
			succeed(t, s, first)
		}, forced("m-2", "force-a"), 2},
		{"the same forced rerun runs once", func(t *testing.T, s *runs.Store, _ *clock, first runs.Run) {
			succeed(t, s, first)
			again, err := s.Claim(ctx, forced("m-2", "force-a"))
			if err != nil {
				t.Fatal(err)
			}
			succeed(t, s, again)
		}, forced("m-3", "force-a"), 0},
		{"another forced rerun runs again", func(t *testing.T, s *runs.Store, _ *clock, first runs.Run) {
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
			s, c := newStore(t)
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

func succeed(t *testing.T, s *runs.Store, r runs.Run) {
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
func commit(t *testing.T, s *runs.Store, ref contracts.Run, objects int) {
	t.Helper()
	ctx := context.Background()
	if _, won, err := s.BeginCommit(ctx, ref); err != nil || !won {
		t.Fatalf("begin commit = %v, %v", won, err)
	}
	if err := s.FinishCommit(ctx, ref, objects); err != nil {
		t.Fatalf("finish commit: %v", err)
	}
}

func TestStaleAttemptIsFenced(t *testing.T) {
	s, c := newStore(t)
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

func TestCommitOnlyWhenCompleteAndExactlyOnce(t *testing.T) {
	s, _ := newStore(t)
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

func TestStartIsExclusiveAndARestartFencesTheEarlierTry(t *testing.T) {
	s, c := newStore(t)
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

func TestForcedClaimNeedsAnID(t *testing.T) {
	s, _ := newStore(t)
	r := req("m-1")
	r.Force = true
	if _, err := s.Claim(context.Background(), r); err == nil {
		t.Fatal("a forced claim without a force id must be refused")
	}
}

func TestComplete(t *testing.T) {
	n := func(v int) *int { return &v }
	tests := []struct {
		name string
		run  runs.Run
		want bool
	}{
		{"total unknown", runs.Run{Written: []int{0}}, false},
		{"missing batch", runs.Run{BatchesExpected: n(3), Written: []int{0, 2}}, false},
		{"stray batch number", runs.Run{BatchesExpected: n(2), Written: []int{0, 5}}, false},
		{"all written", runs.Run{BatchesExpected: n(3), Written: []int{2, 0, 1}}, true},
		{"empty window", runs.Run{BatchesExpected: n(0)}, true},
	}
	for _, tt := range tests {
		if got := tt.run.Complete(); got != tt.want {
			t.Errorf("%s: Complete = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestHistoryKeepsEveryAttemptAndOnlyIt(t *testing.T) {
	s, c := newStore(t)
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

func TestRelease(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		setup   func(t *testing.T, s *runs.Store, c *clock, r runs.Run)
		force   bool
		wantErr error // nil: released
	}{
		{"live lease refused", func(*testing.T, *runs.Store, *clock, runs.Run) {}, false, runs.ErrLeaseLive},
		{"live lease forced", func(*testing.T, *runs.Store, *clock, runs.Run) {}, true, nil},
		{"expired lease", func(_ *testing.T, _ *runs.Store, c *clock, _ runs.Run) { c.Add(2 * time.Minute) }, false, nil},
		{"finished run", func(t *testing.T, s *runs.Store, _ *clock, r runs.Run) {
			if _, err := s.SetTotals(ctx, r.Ref(), 0, 0, 0); err != nil {
				t.Fatal(err)
			}
			commit(t, s, r.Ref(), 0)
		}, true, runs.ErrNotLive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := newStore(t)
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

func TestCommittingRunIsResumedNotRedecided(t *testing.T) {
	s, c := newStore(t)
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

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  runs.Config
		ok   bool
	}{
		{"defaults", runs.Config{Table: "t"}, true},
		{"heartbeat a third of the lease", runs.Config{Table: "t", Lease: 30 * time.Second, Heartbeat: 10 * time.Second}, true},
		{"heartbeat half the lease", runs.Config{Table: "t", Lease: 30 * time.Second, Heartbeat: 15 * time.Second}, false},
		{"heartbeat over the default lease", runs.Config{Table: "t", Heartbeat: 10 * time.Minute}, false},
		{"lease too short", runs.Config{Table: "t", Lease: time.Second}, false},
		{"no table", runs.Config{}, false},
	}
	for _, tt := range tests {
		if err := tt.cfg.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestContinuationHops(t *testing.T) {
	s, c := newStore(t)
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

// flakyDB applies an update, then reports it failed, once: a response lost
// in transit, which the SDK retries.
type flakyDB struct {
	runs.DynamoDB
	failOnce string // the update expression to hit
	hit      bool
}

func (f *flakyDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	out, err := f.DynamoDB.UpdateItem(ctx, in, opts...)
	if err == nil && !f.hit && strings.Contains(*in.UpdateExpression, f.failOnce) {
		f.hit = true
		// The retry of the same request, as the SDK would send it.
		return f.DynamoDB.UpdateItem(ctx, in, opts...)
	}
	return out, err
}

// An update the SDK retried after the first request took effect is
// recognised as ours, not taken for a fence.
func TestRetriedUpdatesAreRecognisedAsOurOwn(t *testing.T) {
	for _, expr := range []string{"started_at = :at, lease_until", "checkpoint = :cp", "taken = :hop", "attempt = attempt + :one"} {
		t.Run(expr, func(t *testing.T) {
			st := devstacktest.Start(t, devstackOptions)
			db := &flakyDB{DynamoDB: st.DynamoDB, failOnce: expr}
			c := &clock{now: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
			s, err := runs.New(db, runs.Config{Table: st.Resources.Table, Lease: time.Minute}, runs.WithClock(c.Now))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			claimed, err := s.Claim(ctx, req("m-1"))
			if err != nil {
				t.Fatal(err)
			}
			r, err := s.Start(ctx, claimed.Ref(), "f-0")
			if err != nil || r.Status != runs.Running {
				t.Fatalf("start = %+v, %v", r, err)
			}
			if err := s.Checkpoint(ctx, r.Ref(), 0, `{"page":{"pages":3}}`); err != nil {
				t.Fatalf("checkpoint: %v", err)
			}
			hop, err := s.StartHop(ctx, r.Ref(), "f-1", 1)
			if err != nil || hop.Taken != 1 {
				t.Fatalf("continue = %+v, %v", hop, err)
			}
			if err := s.Yield(ctx, hop.Ref(), "f-1"); err != nil {
				t.Fatal(err)
			}
			c.Add(5 * time.Second)                           // a visibility timeout later
			again, err := s.StartHop(ctx, r.Ref(), "f-1", 1) // its redelivery: a restart
			if err != nil || again.Attempt != r.Attempt+1 {
				t.Fatalf("restart = %+v, %v", again, err)
			}
			if !db.hit {
				t.Fatalf("the update %q was never retried", expr)
			}
		})
	}
}
