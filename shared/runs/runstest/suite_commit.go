package runstest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/runs"
)

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
	if finished, err := s.FinishCommit(ctx, ref, objects); err != nil || !finished {
		t.Fatalf("finish commit = %v, %v", finished, err)
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
		"renew":      func() error { _, err := s.RenewCommit(ctx, old.Ref()); return err },
		"finish":     func() error { _, err := s.FinishCommit(ctx, old.Ref(), 1); return err },
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
	for i := range 2 { // finishing twice is harmless; only the first call finished it
		if finished, err := s.FinishCommit(ctx, ref, 3); err != nil || finished != (i == 0) {
			t.Fatalf("finish commit #%d = %v, %v; want %v", i+1, finished, err, i == 0)
		}
	}
	final, err := s.Get(ctx, "orders/2026-11-01")
	if err != nil || final.Status != runs.Succeeded || final.Records != 30 || final.Objects != 3 || final.FinishedAt == "" || final.LeaseUntil != 0 {
		t.Fatalf("final = %+v, %v", final, err)
	}
}

func testCommittingRunIsResumedNotRedecided(t *testing.T, open Open) {
	s, c := newStore(t, open)
	ctx := context.Background()
	r, err := s.Claim(ctx, req("m-1"))
	if err != nil {
		t.Fatal(err)
	}
	toCommitting(t, s, r, "f-1")
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
	if _, err := s.FinishCommit(ctx, r.Ref(), 0); !errors.Is(err, runs.ErrFenced) {
		t.Fatalf("finishing a taken-over commit: %v, want fenced", err)
	}
}

// The schema of a commit's files is recorded while it is COMMITTING and
// kept into SUCCEEDED and the attempt's history; at any other time
// SetSchema is fenced.
func testSchemaIsRecordedOnTheCommitAndItsHistory(t *testing.T, open Open) {
	s, _ := newStore(t, open)
	ctx := context.Background()
	r, err := s.Claim(ctx, req("m-1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetSchema(ctx, r.Ref(), "fp-1", ""); !errors.Is(err, runs.ErrFenced) {
		t.Fatalf("set schema of a CLAIMED run = %v, want fenced", err)
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
	if err := s.SetSchema(ctx, r.Ref(), "fp-2", "fp-1 (2026-11-01 attempt 1)"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FinishCommit(ctx, r.Ref(), 1); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, r.Input)
	if err != nil || got.Schema != "fp-2" || got.SchemaChange != "fp-1 (2026-11-01 attempt 1)" {
		t.Fatalf("run = %+v, %v; want the schema and its change", got, err)
	}
	h, err := s.History(ctx, r.Input)
	if err != nil || len(h) != 1 || h[0].Schema != "fp-2" || h[0].SchemaChange == "" {
		t.Fatalf("history = %+v, %v; want the schema in attempt 1", h, err)
	}
	if err := s.SetSchema(ctx, r.Ref(), "fp-3", ""); !errors.Is(err, runs.ErrFenced) {
		t.Fatalf("set schema of a SUCCEEDED run = %v, want fenced", err)
	}
}

// Each committer of the COMMITTING attempt — a continuation of its
// compaction, a redelivery — renews the lease, so that a commit that
// keeps working is never taken over; one that stops is, a lease after its
// last committer. A stale attempt's BeginCommit stays fenced and leaves
// the new attempt's lease alone.
func testAContinuedCommitRenewsItsLease(t *testing.T, open Open) {
	s, c := newStore(t, open)
	ctx := context.Background()
	r, err := s.Claim(ctx, req("m-1"))
	if err != nil {
		t.Fatal(err)
	}
	toCommitting(t, s, r, "f-1")
	for i := range 3 { // three continuations, 40s apart: 2 minutes past the first lease
		c.Add(40 * time.Second)
		cur, won, err := s.BeginCommit(ctx, r.Ref())
		if won || err != nil || cur.Status != runs.Committing {
			t.Fatalf("continuation %d: begin = %+v, %v, %v; want joined", i, cur, won, err)
		}
		if want := c.Now().Add(time.Minute).Unix(); cur.LeaseUntil != want {
			t.Fatalf("continuation %d: lease until %d, want %d (renewed to a lease from now)", i, cur.LeaseUntil, want)
		}
		if got, err := s.Expired(ctx, c.Now(), 0); err != nil || len(got) != 0 {
			t.Fatalf("continuation %d: expired = %v, %v; want none (the commit is live)", i, inputs(got), err)
		}
		if _, err := s.Claim(ctx, req("m-2")); err == nil {
			t.Fatalf("continuation %d: a claim took the live commit over", i)
		}
	}
	c.Add(50 * time.Second) // a heartbeat during a long compaction
	if cur, err := s.RenewCommit(ctx, r.Ref()); err != nil || cur.LeaseUntil != c.Now().Add(time.Minute).Unix() {
		t.Fatalf("renew commit = %+v, %v; want the lease renewed", cur, err)
	}
	c.Add(2 * time.Minute) // the committers stopped
	next, err := s.Claim(ctx, req("m-3"))
	if err != nil || next.Attempt != r.Attempt+1 {
		t.Fatalf("claim of an abandoned commit = %+v, %v", next, err)
	}
	if _, _, err := s.BeginCommit(ctx, r.Ref()); !errors.Is(err, runs.ErrFenced) {
		t.Fatalf("begin by the stale attempt: %v, want fenced", err)
	}
	if got, err := s.Get(ctx, r.Input); err != nil || got.Attempt != next.Attempt || got.LeaseUntil != next.LeaseUntil {
		t.Fatalf("run = %+v, %v; want attempt %d with its claim's lease untouched", got, err, next.Attempt)
	}
}
