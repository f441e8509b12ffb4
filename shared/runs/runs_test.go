package runs_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-data/sluice/shared/devstack/devstacktest"
	"github.com/sluice-data/sluice/shared/runs"
)

// newStore returns a store over a fresh table in DynamoDB Local, with a
// clock the test moves by hand.
func newStore(t *testing.T) (*runs.Store, *clock) {
	t.Helper()
	st := devstacktest.Start(t, devstackOptions)
	s, err := runs.New(st.DynamoDB, runs.Config{Table: st.Resources.Table, Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{now: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	s.SetClock(c.Now)
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
		{"expired lease is free though the item was never deleted", func(_ *testing.T, _ *runs.Store, c *clock, _ runs.Run) {
			c.Add(time.Minute + 2*time.Second)
		}, req("m-2"), 2},
		{"expired RUNNING lease is free", func(t *testing.T, s *runs.Store, c *clock, first runs.Run) {
			if _, err := s.Start(ctx, first.Ref()); err != nil {
				t.Fatal(err)
			}
			c.Add(time.Minute + 2*time.Second)
		}, req("m-2"), 2},
		{"heartbeat keeps the lease", func(t *testing.T, s *runs.Store, c *clock, first runs.Run) {
			c.Add(50 * time.Second)
			if err := s.Heartbeat(ctx, first.Ref()); err != nil {
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
		}, runs.ClaimRequest{Source: "orders", Window: "2026-11-01", Trigger: "manual", MessageID: "m-2", Force: true}, 2},
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

func succeed(t *testing.T, s *runs.Store, r runs.Run) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Start(ctx, r.Ref()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetTotals(ctx, r.Ref(), 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Commit(ctx, r.Ref(), 0); err != nil || !ok {
		t.Fatalf("commit = %v, %v", ok, err)
	}
}

func TestStaleAttemptIsFenced(t *testing.T) {
	s, c := newStore(t)
	ctx := context.Background()
	old, err := s.Claim(ctx, req("m-1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(ctx, old.Ref()); err != nil {
		t.Fatal(err)
	}
	c.Add(2 * time.Minute) // the old worker paused past its lease
	if _, err := s.Claim(ctx, req("m-2")); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() error{
		"heartbeat": func() error { return s.Heartbeat(ctx, old.Ref()) },
		"start":     func() error { _, err := s.Start(ctx, old.Ref()); return err },
		"batch":     func() error { _, err := s.BatchWritten(ctx, old.Ref(), 0); return err },
		"totals":    func() error { _, err := s.SetTotals(ctx, old.Ref(), 1, 1, 1); return err },
		"commit":    func() error { _, err := s.Commit(ctx, old.Ref(), 1); return err },
		"fail":      func() error { return s.Fail(ctx, old.Ref(), "x", "y") },
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
	if _, err := s.Start(ctx, ref); err != nil {
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
	if ok, err := s.Commit(ctx, ref, 3); ok || !errors.Is(err, runs.ErrFenced) {
		t.Fatalf("commit of an incomplete run = %v, %v; want refused", ok, err)
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
			ok, err := s.Commit(ctx, ref, 3)
			if err != nil {
				t.Errorf("commit: %v", err)
			}
			if ok {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d commits won, want 1", wins.Load())
	}
	final, err := s.Get(ctx, "orders/2026-11-01")
	if err != nil || final.Status != runs.Succeeded || final.Records != 30 || final.Objects != 3 || final.FinishedAt == "" {
		t.Fatalf("final = %+v, %v", final, err)
	}
	if final.LeaseUntil().Before(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("a finished run must be kept for the retention period, expires %v", final.LeaseUntil())
	}
}
