package runstest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/sluice/shared/runs"
)

// inputs returns the inputs of rs, in order.
func inputs(rs []runs.Run) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Input
	}
	return out
}

func testExpiredListsOnlyOpenRunsPastTheirLease(t *testing.T, open Open) {
	s, c := newStore(t, open)
	ctx := context.Background()
	claim := func(window, msg string) runs.Run {
		r, err := s.Claim(ctx, runs.ClaimRequest{Source: "orders", Window: window, Trigger: "manual", MessageID: msg})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	done := claim("2026-11-01", "m-1")
	succeed(t, s, done)
	failed := claim("2026-11-02", "m-2")
	if err := s.Fail(ctx, failed.Ref(), "permanent", "HTTP 401"); err != nil {
		t.Fatal(err)
	}
	running := claim("2026-11-03", "m-3")
	if _, err := s.Start(ctx, running.Ref(), "f-3"); err != nil {
		t.Fatal(err)
	}
	claim("2026-11-04", "m-4")
	c.Add(30 * time.Second)
	claim("2026-11-05", "m-5") // its lease runs 30s longer

	got, err := s.Expired(ctx, c.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("expired before now, with every lease live: %v", inputs(got))
	}
	c.Add(45 * time.Second) // the first three leases expired 15s ago, the last one's is live
	got, err = s.Expired(ctx, c.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := "orders/2026-11-03 orders/2026-11-04"; strings.Join(slices.Sorted(slices.Values(inputs(got))), " ") != want {
		t.Fatalf("expired = %v, want %s (neither ended runs, history items, nor a live lease)", inputs(got), want)
	}
	if got, err = s.Expired(ctx, c.Now().Add(-20*time.Second), 0); err != nil || len(got) != 0 {
		t.Fatalf("expired 20s before now = %v, %v; want none (the leases expired 15s ago)", inputs(got), err)
	}
	if got, err = s.Expired(ctx, c.Now(), 1); err != nil || len(got) != 1 {
		t.Fatalf("expired, at most 1 = %v, %v", inputs(got), err)
	}
}

func testTakeUpCountsAndGivesUpAtTheBudget(t *testing.T, open Open) {
	s, c := newStore(t, open)
	ctx := context.Background()
	const key = "orders/2026-11-01"
	first, err := s.Claim(ctx, req("m-1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(ctx, first.Ref(), "f-1"); err != nil {
		t.Fatal(err)
	}
	takeUp := func(max int) runs.TakeUpOutcome {
		t.Helper()
		r, err := s.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.TakeUp(ctx, runs.TakeUpRequest{Run: r, ExpiredBefore: c.Now().Add(-5 * time.Second), Max: max})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := takeUp(2); got != runs.NotTakenUp {
		t.Fatalf("take-up of a live lease: %v", got)
	}
	c.Add(time.Minute + 2*time.Second) // expired, but within the grace
	if got := takeUp(2); got != runs.NotTakenUp {
		t.Fatalf("take-up within the grace: %v", got)
	}
	c.Add(10 * time.Second)
	if got := takeUp(2); got != runs.TakenUp {
		t.Fatalf("first take-up: %v", got)
	}
	if got := takeUp(2); got != runs.NotTakenUp {
		t.Fatalf("second take-up while the first may be on its way: %v", got)
	}
	// Dedupe claims the re-sent input: the count survives the claim.
	second, err := s.Claim(ctx, req("m-2"))
	if err != nil {
		t.Fatal(err)
	}
	if second.TakeUps != 1 || second.Attempt != 2 {
		t.Fatalf("claim after a take-up: attempt %d, take-ups %d; want 2, 1", second.Attempt, second.TakeUps)
	}
	c.Add(time.Minute + 10*time.Second) // the second attempt dies too
	if got := takeUp(2); got != runs.TakenUp {
		t.Fatalf("take-up of the second attempt: %v", got)
	}
	third, err := s.Claim(ctx, req("m-3"))
	if err != nil {
		t.Fatal(err)
	}
	c.Add(time.Minute + 10*time.Second) // and the third
	if got := takeUp(2); got != runs.GivenUp {
		t.Fatalf("take-up past the budget: %v", got)
	}
	r, err := s.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != runs.Failed || r.Attempt != third.Attempt || r.ErrorClass != runs.ClassCrashed || !strings.Contains(r.LastError, "the worker died 3 times") {
		t.Fatalf("given up: %+v", r)
	}
	if r.TakeUps != 0 || r.LeaseUntil != 0 {
		t.Fatalf("a given-up run keeps take-ups %d, lease %d", r.TakeUps, r.LeaseUntil)
	}
	if got, err := s.Expired(ctx, c.Now(), 0); err != nil || len(got) != 0 {
		t.Fatalf("expired after the give-up = %v, %v", inputs(got), err)
	}
	// A new claim of the failed input starts counting from zero.
	fourth, err := s.Claim(ctx, req("m-4"))
	if err != nil || fourth.TakeUps != 0 {
		t.Fatalf("claim after the give-up = %+v, %v", fourth, err)
	}
	// A run that ends resets the count.
	c.Add(time.Minute + 10*time.Second)
	if got := takeUp(5); got != runs.TakenUp {
		t.Fatalf("take-up of the fourth attempt: %v", got)
	}
	fifth, err := s.Claim(ctx, req("m-5"))
	if err != nil {
		t.Fatal(err)
	}
	succeed(t, s, fifth)
	if r, err := s.Get(ctx, key); err != nil || r.TakeUps != 0 {
		t.Fatalf("a SUCCEEDED run keeps take-ups: %+v, %v", r, err)
	}
	if h, err := s.History(ctx, key); err != nil || h[2].Status != runs.Failed || h[2].ErrorClass != runs.ClassCrashed {
		t.Fatalf("history of the given-up attempt: %+v, %v", h, err)
	}
}

func testTakeUpLeavesACommitOverTheBudget(t *testing.T, open Open) {
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
	if _, won, err := s.BeginCommit(ctx, r.Ref()); err != nil || !won {
		t.Fatalf("begin commit = %v, %v", won, err)
	}
	c.Add(time.Minute + 10*time.Second)
	cur, _ := s.Get(ctx, r.Input)
	before := c.Now().Add(-5 * time.Second)
	if got, err := s.TakeUp(ctx, runs.TakeUpRequest{Run: cur, ExpiredBefore: before, Max: 1}); err != nil || got != runs.TakenUp {
		t.Fatalf("take-up of a COMMITTING run = %v, %v", got, err)
	}
	cur, _ = s.Get(ctx, r.Input)
	c.Add(2 * time.Minute)
	if got, err := s.TakeUp(ctx, runs.TakeUpRequest{Run: cur, ExpiredBefore: c.Now().Add(-5 * time.Second), Max: 1}); err != nil || got != runs.StuckCommitting {
		t.Fatalf("take-up of a COMMITTING run over the budget = %v, %v", got, err)
	}
	if cur, _ = s.Get(ctx, r.Input); cur.Status != runs.Committing {
		t.Fatalf("a COMMITTING run over the budget was changed: %+v", cur)
	}
}
