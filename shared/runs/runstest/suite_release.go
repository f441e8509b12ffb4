package runstest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/runs"
)

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
	if err := s.Fail(ctx, second.Ref(), consumer.ClassPermanent, "HTTP 401 from the API"); err != nil {
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
		{2, runs.Failed, "manual", consumer.ClassPermanent},
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
		setup   func(t *testing.T, s Contract, c *Clock, r runs.Run)
		force   bool
		wantErr error // nil: released
	}{
		{"live lease refused", func(*testing.T, Contract, *Clock, runs.Run) {}, false, runs.ErrLeaseLive},
		{"live lease forced", func(*testing.T, Contract, *Clock, runs.Run) {}, true, nil},
		{"expired lease", func(_ *testing.T, _ Contract, c *Clock, _ runs.Run) { c.Add(2 * time.Minute) }, false, nil},
		// A commit past its decision may publish at any moment: release
		// cannot fence it, so it refuses, forced or not, lease live or not.
		{"committing refused though forced", func(t *testing.T, s Contract, _ *Clock, r runs.Run) {
			if _, err := s.SetTotals(ctx, r.Ref(), 0, 0, 0); err != nil {
				t.Fatal(err)
			}
			if _, won, err := s.BeginCommit(ctx, r.Ref()); err != nil || !won {
				t.Fatalf("begin commit = %v, %v", won, err)
			}
		}, true, runs.ErrCommitting},
		{"committing with an expired lease refused", func(t *testing.T, s Contract, c *Clock, r runs.Run) {
			if _, err := s.SetTotals(ctx, r.Ref(), 0, 0, 0); err != nil {
				t.Fatal(err)
			}
			if _, won, err := s.BeginCommit(ctx, r.Ref()); err != nil || !won {
				t.Fatalf("begin commit = %v, %v", won, err)
			}
			c.Add(2 * time.Minute)
		}, false, runs.ErrCommitting},
		{"finished run", func(t *testing.T, s Contract, _ *Clock, r runs.Run) {
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
				if cur, gerr := s.Get(ctx, "orders/2026-11-01"); gerr != nil || cur.Status == runs.Failed {
					t.Fatalf("a refused release changed the run: %+v, %v", cur, gerr)
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

// A COMMITTING run may already be published: Fail (a give-up, a fetcher's
// late error) leaves it alone, fenced; only FailCommit — a committer that
// saw the attempt unpublished — ends it.
func testFailLeavesACommitToTheCommitter(t *testing.T, open Open) {
	s, _ := newStore(t, open)
	ctx := context.Background()
	r, err := s.Claim(ctx, req("m-1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.FailCommit(ctx, r.Ref(), "x", "not committing"); !errors.Is(err, runs.ErrFenced) {
		t.Fatalf("fail commit of a CLAIMED run = %v, want fenced", err)
	}
	if _, err := s.Start(ctx, r.Ref(), "f-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetTotals(ctx, r.Ref(), 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	if _, won, err := s.BeginCommit(ctx, r.Ref()); err != nil || !won {
		t.Fatalf("begin commit = %v, %v", won, err)
	}
	var fe *runs.FencedError
	if err := s.Fail(ctx, r.Ref(), consumer.ClassRetriesExhausted, "S3 503"); !errors.As(err, &fe) || fe.Status != runs.Committing || fe.Attempt != r.Attempt {
		t.Fatalf("fail of a COMMITTING run = %v, want fenced by its own COMMITTING attempt", err)
	}
	if cur, err := s.Get(ctx, r.Input); err != nil || cur.Status != runs.Committing {
		t.Fatalf("run after the refused fail = %+v, %v", cur, err)
	}
	if err := s.FailCommit(ctx, r.Ref(), consumer.ClassRetriesExhausted, "S3 503"); err != nil {
		t.Fatal(err)
	}
	cur, err := s.Get(ctx, r.Input)
	if err != nil || cur.Status != runs.Failed || cur.ErrorClass != consumer.ClassRetriesExhausted || cur.LastError != "S3 503" || cur.LeaseUntil != 0 {
		t.Fatalf("run after fail commit = %+v, %v", cur, err)
	}
	if next, err := s.Claim(ctx, req("m-2")); err != nil || next.Attempt != 2 {
		t.Fatalf("claim after fail commit = %+v, %v", next, err)
	}
}

// A take-over that jumps to the floor logs the attempt it replaced, not
// the number below the new one.
func testHistoryAbandonsTheAttemptATakeOverToTheFloorReplaced(t *testing.T, open Open) {
	s, c := newStore(t, open)
	ctx := context.Background()
	first, err := s.Claim(ctx, req("m-1"))
	if err != nil || first.Attempt != 1 {
		t.Fatalf("claim = %+v, %v", first, err)
	}
	c.Add(2 * time.Minute) // its lease expires
	r := req("m-2")
	r.Floor = 5
	second, err := s.Claim(ctx, r)
	if err != nil || second.Attempt != 6 {
		t.Fatalf("claim over the floor = %+v, %v; want attempt 6", second, err)
	}
	history, err := s.History(ctx, "orders/2026-11-01")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range history {
		got = append(got, fmt.Sprintf("%d %s", h.Attempt, h.Status))
	}
	if want := "[1 ABANDONED 6 CLAIMED]"; fmt.Sprint(got) != want {
		t.Fatalf("history = %v, want %s", got, want)
	}
}

// History shows a running attempt as the run item holds it, with the
// progress that transitions without a new revision record (batches
// written, totals).
func testHistoryShowsARunningAttemptAsItStands(t *testing.T, open Open) {
	s, _ := newStore(t, open)
	ctx := context.Background()
	run, err := s.Claim(ctx, req("m-1"))
	if err != nil {
		t.Fatal(err)
	}
	if run, err = s.Start(ctx, run.Ref(), "f-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BatchWritten(ctx, run.Ref(), 0); err != nil {
		t.Fatal(err)
	}
	cur, err := s.Get(ctx, run.Input)
	if err != nil {
		t.Fatal(err)
	}
	history, err := s.History(ctx, run.Input)
	if err != nil {
		t.Fatal(err)
	}
	if len(history) != 1 || fmt.Sprint(history[0].Written) != fmt.Sprint(cur.Written) || len(cur.Written) != 1 {
		t.Fatalf("history = %+v; want the run item's attempt as it stands, written %v", history, cur.Written)
	}
}
