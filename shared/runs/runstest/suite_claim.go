package runstest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-data/sluice/shared/runs"
)

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
		setup       func(t *testing.T, s Contract, c *Clock, first runs.Run)
		req         runs.ClaimRequest
		wantAttempt int // 0: the claim must be lost
	}{
		{"live lease blocks", func(*testing.T, Contract, *Clock, runs.Run) {}, req("m-2"), 0},
		{"same message gets its own claim back", func(*testing.T, Contract, *Clock, runs.Run) {}, req("m-1"), 1},
		{"same message after the fetch started loses", func(t *testing.T, s Contract, _ *Clock, first runs.Run) {
			if _, err := s.Start(ctx, first.Ref(), "f-1"); err != nil {
				t.Fatal(err)
			}
		}, req("m-1"), 0},
		{"the same message after its lease expired claims a new attempt", func(_ *testing.T, _ Contract, c *Clock, _ runs.Run) {
			c.Add(time.Minute + 2*time.Second)
		}, req("m-1"), 2},
		{"expired lease is free though the item was never deleted", func(_ *testing.T, _ Contract, c *Clock, _ runs.Run) {
			c.Add(time.Minute + 2*time.Second)
		}, req("m-2"), 2},
		{"expired RUNNING lease is free", func(t *testing.T, s Contract, c *Clock, first runs.Run) {
			if _, err := s.Start(ctx, first.Ref(), "f-1"); err != nil {
				t.Fatal(err)
			}
			c.Add(time.Minute + 2*time.Second)
		}, req("m-2"), 2},
		{"heartbeat keeps the lease", func(t *testing.T, s Contract, c *Clock, first runs.Run) {
			c.Add(50 * time.Second)
			if _, err := s.Heartbeat(ctx, first.Ref()); err != nil {
				t.Fatal(err)
			}
			c.Add(50 * time.Second)
		}, req("m-2"), 0},
		{"failed run is free", func(t *testing.T, s Contract, _ *Clock, first runs.Run) {
			if err := s.Fail(ctx, first.Ref(), "permanent", "HTTP 401"); err != nil {
				t.Fatal(err)
			}
		}, req("m-2"), 2},
		{"succeeded run is not rerun by a plain trigger", func(t *testing.T, s Contract, c *Clock, first runs.Run) {
			succeed(t, s, first)
			c.Add(time.Hour)
		}, req("m-2"), 0},
		{"succeeded run is rerun when forced", func(t *testing.T, s Contract, _ *Clock, first runs.Run) {
			succeed(t, s, first)
		}, forced("m-2", "force-a"), 2},
		{"the same forced rerun runs once", func(t *testing.T, s Contract, _ *Clock, first runs.Run) {
			succeed(t, s, first)
			again, err := s.Claim(ctx, forced("m-2", "force-a"))
			if err != nil {
				t.Fatal(err)
			}
			succeed(t, s, again)
		}, forced("m-3", "force-a"), 0},
		{"another forced rerun runs again", func(t *testing.T, s Contract, _ *Clock, first runs.Run) {
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
			if cur, err := s.Get(ctx, got.Input); err != nil || fmt.Sprintf("%+v", cur) != fmt.Sprintf("%+v", got) {
				t.Fatalf("the claim returned\n%+v\nbut the run is\n%+v (%v)", got, cur, err)
			}
			h, err := s.History(ctx, got.Input)
			if err != nil || len(h) != got.Attempt || h[len(h)-1].Status != runs.Claimed || h[len(h)-1].RunID != got.RunID {
				t.Fatalf("history = %+v, %v; want attempts 1…%d, the last this claim", h, err, got.Attempt)
			}
			for _, prev := range h[:len(h)-1] {
				if prev.Status.Live() {
					t.Fatalf("attempt %d is still %s in the history after attempt %d claimed: %+v", prev.Attempt, prev.Status, got.Attempt, h)
				}
			}
		})
	}
}

func forced(msg, id string) runs.ClaimRequest {
	r := req(msg)
	r.Force, r.ForceID = true, id
	return r
}

func testForcedClaimNeedsAnID(t *testing.T, open Open) {
	s, _ := newStore(t, open)
	r := req("m-1")
	r.Force = true
	if _, err := s.Claim(context.Background(), r); err == nil {
		t.Fatal("a forced claim without a force id must be refused")
	}
}

// A claim numbers its attempt above Floor — the highest attempt the
// bucket holds for the input — as well as above the run's own counter, so
// a lost or restored run item never reuses an attempt number.
func testClaimIsNumberedAboveTheFloor(t *testing.T, open Open) {
	s, _ := newStore(t, open)
	ctx := context.Background()
	claim := func(msg string, floor int) (runs.Run, error) {
		r := req(msg)
		r.Floor = floor
		return s.Claim(ctx, r)
	}
	steps := []struct {
		msg   string
		floor int
		fail  bool // fail the claimed attempt, to free the input
		want  int  // 0: the claim is lost
		why   string
	}{
		{"m-1", 4, true, 5, "no run item: above the floor"},
		{"m-2", 2, true, 6, "the run's counter above the floor"},
		{"m-3", 9, false, 10, "a run item behind the bucket (restored)"},
		{"m-3", 9, false, 10, "the same message again: its own claim back"},
		{"m-4", 20, false, 0, "a live claim is not taken, whatever the floor"},
	}
	for _, st := range steps {
		r, err := claim(st.msg, st.floor)
		if st.want == 0 {
			if !errors.Is(err, runs.ErrClaimLost) {
				t.Fatalf("%s: claim = %+v, %v; want it lost", st.why, r, err)
			}
			continue
		}
		if err != nil || r.Attempt != st.want || r.Status != runs.Claimed {
			t.Fatalf("%s: claim = attempt %d %s, %v; want attempt %d", st.why, r.Attempt, r.Status, err, st.want)
		}
		if st.fail {
			if err := s.Fail(ctx, r.Ref(), "permanent", "x"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if cur, err := s.Get(ctx, "orders/2026-11-01"); err != nil || cur.Attempt != 10 {
		t.Fatalf("run = %+v, %v; want attempt 10", cur, err)
	}
}
