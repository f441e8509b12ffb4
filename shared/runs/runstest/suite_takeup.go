package runstest

import (
	"context"
	"errors"
	"fmt"
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
	if _, err := s.Start(ctx, claim("2026-11-04", "m-4").Ref(), "f-4"); err != nil {
		t.Fatal(err)
	}
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
	startIt := func(r runs.Run, msg string) {
		t.Helper()
		if _, err := s.Start(ctx, r.Ref(), msg); err != nil {
			t.Fatal(err)
		}
	}
	startIt(second, "f-2")
	c.Add(time.Minute + 10*time.Second) // the second attempt dies too
	if got := takeUp(2); got != runs.TakenUp {
		t.Fatalf("take-up of the second attempt: %v", got)
	}
	third, err := s.Claim(ctx, req("m-3"))
	if err != nil {
		t.Fatal(err)
	}
	startIt(third, "f-3")
	c.Add(time.Minute + 10*time.Second) // and the third
	if got := takeUp(2); got != runs.GivenUp {
		t.Fatalf("take-up past the budget: %v", got)
	}
	r, err := s.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != runs.Failed || r.Attempt != third.Attempt || r.ErrorClass != runs.ClassCrashed || !strings.Contains(r.LastError, "taken up again 2 times in a row") {
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
	startIt(fourth, "f-4")
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

// toCommitting starts claimed run r's fetch as fetch message msg and brings
// it, with no batches, to COMMITTING.
func toCommitting(t *testing.T, s Contract, r runs.Run, msg string) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Start(ctx, r.Ref(), msg); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetTotals(ctx, r.Ref(), 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	if _, won, err := s.BeginCommit(ctx, r.Ref()); err != nil || !won {
		t.Fatalf("begin commit = %v, %v", won, err)
	}
}

func testTakeUpLeavesACommitOverTheBudget(t *testing.T, open Open) {
	s, c := newStore(t, open)
	ctx := context.Background()
	r, err := s.Claim(ctx, req("m-1"))
	if err != nil {
		t.Fatal(err)
	}
	toCommitting(t, s, r, "f-1")
	c.Add(time.Minute + 10*time.Second)
	cur, _ := s.Get(ctx, r.Input)
	before := c.Now().Add(-5 * time.Second)
	if got, err := s.TakeUp(ctx, runs.TakeUpRequest{Run: cur, ExpiredBefore: before, Max: 1}); err != nil || got != runs.TakenUp {
		t.Fatalf("take-up of a COMMITTING run = %v, %v", got, err)
	}
	// The take-up's claim comes, and that attempt's commit dies too.
	r, err = s.Claim(ctx, runs.ClaimRequest{Source: r.Source, Window: r.Window, Trigger: "manual", MessageID: "t-1", TakeUp: true})
	if err != nil {
		t.Fatal(err)
	}
	toCommitting(t, s, r, "f-2")
	cur, _ = s.Get(ctx, r.Input)
	c.Add(2 * time.Minute)
	if got, err := s.TakeUp(ctx, runs.TakeUpRequest{Run: cur, ExpiredBefore: c.Now().Add(-5 * time.Second), Max: 1}); err != nil || got != runs.StuckCommitting {
		t.Fatalf("take-up of a COMMITTING run over the budget = %v, %v", got, err)
	}
	if cur, _ = s.Get(ctx, r.Input); cur.Status != runs.Committing {
		t.Fatalf("a COMMITTING run over the budget was changed: %+v", cur)
	}
}

// expire moves the clock past every lease and the grace the take-up
// tests use.
func expire(c *Clock) { c.Add(time.Minute + 10*time.Second) }

// takeUpOf reads key's run and takes it up with budget max.
func takeUpOf(t *testing.T, s Contract, c *Clock, key string, max int) runs.TakeUpOutcome {
	t.Helper()
	r, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.TakeUp(context.Background(), runs.TakeUpRequest{Run: r, ExpiredBefore: c.Now().Add(-5 * time.Second), Max: max})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// Only work a worker held and stopped renewing is taken up: a fetch in
// progress (RUNNING, its fetch not finished) and a commit. A CLAIMED run's
// fetch message is queued (or in a DLQ); a RUNNING run whose fetcher
// finished has its batches queued.
func testTakeUpLeavesQueuedWork(t *testing.T, open Open) {
	s, c := newStore(t, open)
	ctx := context.Background()
	claim := func(window, msg string) runs.Run {
		t.Helper()
		r, err := s.Claim(ctx, runs.ClaimRequest{Source: "orders", Window: window, Trigger: "schedule", MessageID: msg})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	start := func(r runs.Run, msg string) runs.Run {
		t.Helper()
		r, err := s.Start(ctx, r.Ref(), msg)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	claim("2026-11-01", "m-1") // its fetch message waits in a backlog
	fetched := start(claim("2026-11-02", "m-2"), "f-2")
	if err := s.Fetched(ctx, fetched.Ref(), "f-2"); err != nil {
		t.Fatal(err)
	}
	working := start(claim("2026-11-03", "m-3"), "f-3")
	if err := s.Fetched(ctx, working.Ref(), "f-other"); !errors.Is(err, runs.ErrFenced) {
		t.Fatalf("fetched by another fetch message: %v, want fenced", err)
	}
	if got, err := s.Get(ctx, fetched.Input); err != nil || !got.Fetched || got.Status != runs.Running {
		t.Fatalf("run after Fetched = %+v, %v", got, err)
	}
	expire(c)
	got, err := s.Expired(ctx, c.Now().Add(-5*time.Second), 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{working.Input}; !slices.Equal(inputs(got), want) {
		t.Fatalf("expired = %v, want %v (neither a CLAIMED run nor a finished fetch)", inputs(got), want)
	}
	for _, key := range []string{"orders/2026-11-01", fetched.Input} {
		if got := takeUpOf(t, s, c, key, 3); got != runs.NotTakenUp {
			t.Fatalf("take-up of %s: %v, want none", key, got)
		}
	}
	if got := takeUpOf(t, s, c, working.Input, 3); got != runs.TakenUp {
		t.Fatalf("take-up of a fetch whose worker stopped renewing: %v", got)
	}
	// A restart begins the fetch again: it is not finished.
	if err := s.Yield(ctx, fetched.Ref(), "f-2"); err != nil {
		t.Fatal(err)
	}
	again, err := s.Start(ctx, fetched.Ref(), "f-2")
	if err != nil || again.Attempt != fetched.Attempt+1 || again.Fetched {
		t.Fatalf("restart of a finished fetch = attempt %d fetched %v, %v; want attempt %d not fetched", again.Attempt, again.Fetched, err, fetched.Attempt+1)
	}
	// A take-up's claim is only of a fetch or a commit past its lease.
	expire(c)
	if _, err := s.Claim(ctx, runs.ClaimRequest{Source: "orders", Window: "2026-11-01", Trigger: "schedule", MessageID: "t-1", TakeUp: true}); !errors.Is(err, runs.ErrClaimLost) {
		t.Fatalf("take-up claim of a CLAIMED run: %v, want lost", err)
	}
	if err := s.Fetched(ctx, again.Ref(), "f-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(ctx, runs.ClaimRequest{Source: "orders", Window: "2026-11-02", Trigger: "schedule", MessageID: "t-2", TakeUp: true}); !errors.Is(err, runs.ErrClaimLost) {
		t.Fatalf("take-up claim of a finished fetch: %v, want lost", err)
	}
	if r, err := s.Claim(ctx, runs.ClaimRequest{Source: "orders", Window: "2026-11-03", Trigger: "schedule", MessageID: "t-3", TakeUp: true}); err != nil || r.Attempt != working.Attempt+1 {
		t.Fatalf("take-up claim of a fetch past its lease = %+v, %v", r, err)
	}
}

// The budget's give-up comes only once the last take-up had its chance:
// its claim came and that attempt's worker died too, or a lease passed
// since it was sent. A take-up whose input was not claimed is sent again
// and counted, so one that is never claimed (dedupe refuses it: its source
// was removed) ends too; and a take-up's input never reopens a run the
// budget FAILED.
func testTakeUpGivesUpOnlyAfterTheLastTakeUpHadItsChance(t *testing.T, open Open) {
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
	expire(c)
	if got := takeUpOf(t, s, c, key, 2); got != runs.TakenUp {
		t.Fatalf("first take-up: %v", got)
	}
	if got := takeUpOf(t, s, c, key, 2); got != runs.NotTakenUp {
		t.Fatalf("take-up again at once, before its input could reach dedupe: %v, want not taken up", got)
	}
	// Its input has not reached dedupe a lease later (lost, or queued).
	expire(c)
	if got := takeUpOf(t, s, c, key, 2); got != runs.TakenUp {
		t.Fatalf("take-up whose input was not claimed yet: %v, want sent again", got)
	}
	if r, _ := s.Get(ctx, key); r.Status != runs.Running || r.TakeUps != 2 {
		t.Fatalf("after a take-up sent again: %s, take-ups %d; want RUNNING, 2 (every send counts)", r.Status, r.TakeUps)
	}
	takeUpClaim := runs.ClaimRequest{Source: "orders", Window: "2026-11-01", Trigger: "manual", MessageID: "t-1", TakeUp: true}
	second, err := s.Claim(ctx, takeUpClaim)
	if err != nil {
		t.Fatal(err)
	}
	if got := takeUpOf(t, s, c, key, 2); got != runs.NotTakenUp {
		t.Fatalf("take-up of the claimed take-up: %v, want not taken up (CLAIMED)", got)
	}
	if _, err := s.Start(ctx, second.Ref(), "f-2"); err != nil {
		t.Fatal(err)
	}
	expire(c) // the taken-up attempt dies too
	if got := takeUpOf(t, s, c, key, 2); got != runs.GivenUp {
		t.Fatalf("take-up past the budget after the last take-up's claim: %v", got)
	}
	// A copy of the take-up's input (a redelivery, a second send) comes.
	takeUpClaim.MessageID = "t-2"
	if _, err := s.Claim(ctx, takeUpClaim); !errors.Is(err, runs.ErrClaimLost) {
		t.Fatalf("take-up claim of a run the budget FAILED: %v, want lost", err)
	}
	if r, _ := s.Get(ctx, key); r.Status != runs.Failed || r.ErrorClass != runs.ClassCrashed || r.Attempt != second.Attempt {
		t.Fatalf("given-up run after a take-up's claim: %+v", r)
	}
}

// A take-up that is never claimed — dedupe refuses it, say because a
// deploy removed the source — is sent again a lease later, counted each
// time, and the run is FAILED once the budget is spent and a lease passed
// since the last send: never re-sent forever.
func testATakeUpNeverClaimedEndsAtTheBudget(t *testing.T, open Open) {
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
	var got []runs.TakeUpOutcome
	for range 6 {
		expire(c)
		got = append(got, takeUpOf(t, s, c, key, 3))
	}
	want := []runs.TakeUpOutcome{runs.TakenUp, runs.TakenUp, runs.TakenUp, runs.GivenUp, runs.NotTakenUp, runs.NotTakenUp}
	if !slices.Equal(got, want) {
		t.Fatalf("take-ups of a run whose take-ups are never claimed: %v, want %v", got, want)
	}
	if r, _ := s.Get(ctx, key); r.Status != runs.Failed || r.ErrorClass != runs.ClassCrashed || r.Attempt != first.Attempt {
		t.Fatalf("run = %+v, want FAILED (crashed) as attempt %d", r, first.Attempt)
	}
}

// Expired pages past the open runs the sweep does not take up (CLAIMED,
// fetched, taken up less than a lease ago) to those it does, within a
// bounded number of reads.
func testExpiredPagesPastRunsItCannotTakeUp(t *testing.T, open Open) {
	s, c := newStore(t, open)
	ctx := context.Background()
	for i := range 5 {
		if _, err := s.Claim(ctx, runs.ClaimRequest{Source: "orders", Window: fmt.Sprintf("2026-10-%02d", i+1), Trigger: "schedule", MessageID: fmt.Sprint("q-", i)}); err != nil {
			t.Fatal(err)
		}
	}
	c.Add(time.Second)
	var working []runs.Run
	for i := range 2 {
		r, err := s.Claim(ctx, runs.ClaimRequest{Source: "orders", Window: fmt.Sprintf("2026-11-%02d", i+1), Trigger: "schedule", MessageID: fmt.Sprint("m-", i)})
		if err != nil {
			t.Fatal(err)
		}
		if r, err = s.Start(ctx, r.Ref(), fmt.Sprint("f-", i)); err != nil {
			t.Fatal(err)
		}
		working = append(working, r)
		c.Add(time.Second)
	}
	expire(c)
	before := c.Now().Add(-5 * time.Second)
	got, err := s.Expired(ctx, before, 1)
	if err != nil || !slices.Equal(inputs(got), []string{working[0].Input}) {
		t.Fatalf("expired, at most 1 = %v, %v; want %s behind five CLAIMED runs", inputs(got), err, working[0].Input)
	}
	if got := takeUpOf(t, s, c, working[0].Input, 3); got != runs.TakenUp {
		t.Fatalf("take-up: %v", got)
	}
	if got, err = s.Expired(ctx, before, 1); err != nil || !slices.Equal(inputs(got), []string{working[1].Input}) {
		t.Fatalf("expired after a take-up = %v, %v; want %s (the run taken up is on its way)", inputs(got), err, working[1].Input)
	}
}
