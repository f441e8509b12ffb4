package main

import (
	"context"
	"errors"
	"testing"

	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/runs"
)

// A claim won, then a Fetch that cannot be sent on the last receive the
// service acts on: the message is parked, and the run it claimed must not
// hold the input for a whole lease with no message anywhere — it is
// marked FAILED, so the input is free at once and a redrive of the parked
// input claims it anew.
func TestClaimGivenUpOnFreesTheInput(t *testing.T) {
	c := newClaims(nil)
	h := &handler{pipeline: testPipeline(t), runs: c, floors: &floorsAt{}, out: &fakeSender{err: errors.New("SQS down")}, fetchURL: fetchURL, now: clock}
	body := golden(t, "input.json")

	err := consumer.GiveUp(h).Handle(context.Background(), consumer.Message{ID: "m-1", Body: body, ReceiveCount: 4, Last: true})
	if !errors.Is(err, consumer.ErrRetriesExhausted) {
		t.Fatalf("Handle = %v, want the message parked as retries exhausted", err)
	}
	in, _ := contracts.DecodeInput(body)
	r, err := c.Get(context.Background(), in.Key())
	if err != nil || r.Status != runs.Failed || r.ErrorClass != consumer.ClassRetriesExhausted {
		t.Fatalf("run after the give-up = %s %q (%v), want FAILED retries-exhausted: the input free", r.Status, r.ErrorClass, err)
	}

	// The parked copy, redriven (a new message id), claims the input anew.
	h.out = &fakeSender{}
	if err := consumer.GiveUp(h).Handle(context.Background(), consumer.Message{ID: "m-redriven", Body: body, ReceiveCount: 1}); err != nil {
		t.Fatal(err)
	}
	if r, _ := c.Get(context.Background(), in.Key()); r.Status != runs.Claimed || r.Attempt != 2 {
		t.Fatalf("run after the redrive = %s attempt %d, want CLAIMED attempt 2", r.Status, r.Attempt)
	}
}
