package runstest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/runs"
)

// testFailOfAFinishedAttemptSaysWhetherItIsSuperseded: giving up on a
// message (its last delivery) tries Fail on its attempt; the fence it
// meets says how the input stands, and Superseded tells a message no one
// needs (its attempt SUCCEEDED, or a newer attempt owns the input) from
// one a redrive needs (its attempt FAILED already).
func testFailOfAFinishedAttemptSaysWhetherItIsSuperseded(t *testing.T, open Open) {
	ctx := context.Background()
	fail := func(s Contract, r runs.Run) *runs.FencedError {
		t.Helper()
		err := s.Fail(ctx, r.Ref(), consumer.ClassRetriesExhausted, "s3: slow down")
		var fenced *runs.FencedError
		if !errors.As(err, &fenced) {
			t.Fatalf("Fail of attempt %d = %v, want a *runs.FencedError", r.Attempt, err)
		}
		return fenced
	}

	t.Run("succeeded", func(t *testing.T) {
		s, _ := newStore(t, open)
		r, err := s.Claim(ctx, req("m-1"))
		if err != nil {
			t.Fatal(err)
		}
		succeed(t, s, r)
		if f := fail(s, r); !f.Superseded() || f.Status != runs.Succeeded || f.Attempt != r.Attempt {
			t.Fatalf("fence %+v: want SUCCEEDED as attempt %d, superseded", f, r.Attempt)
		}
	})
	t.Run("taken over by a newer attempt", func(t *testing.T) {
		s, c := newStore(t, open)
		first, err := s.Claim(ctx, req("m-1"))
		if err != nil {
			t.Fatal(err)
		}
		c.Add(2 * time.Minute) // its worker died: the lease ran out, a new trigger took it
		if _, err := s.Claim(ctx, req("m-2")); err != nil {
			t.Fatal(err)
		}
		if f := fail(s, first); !f.Superseded() || f.Attempt != first.Attempt+1 {
			t.Fatalf("fence %+v: want attempt %d, superseded", f, first.Attempt+1)
		}
	})
	t.Run("failed already", func(t *testing.T) {
		s, _ := newStore(t, open)
		r, err := s.Claim(ctx, req("m-1"))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Fail(ctx, r.Ref(), consumer.ClassPermanent, "HTTP 404"); err != nil {
			t.Fatal(err)
		}
		if f := fail(s, r); f.Superseded() || f.Status != runs.Failed {
			t.Fatalf("fence %+v: want FAILED, not superseded (a redrive needs its message)", f)
		}
	})
}
