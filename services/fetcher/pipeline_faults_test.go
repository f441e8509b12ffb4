package main

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/source"
)

// holdThenFail holds the first batch's Send until release closes, then
// fails it with err.
type holdThenFail struct {
	*fakeSender
	release chan struct{}
	err     error
	n       int
}

func (h *holdThenFail) Send(ctx context.Context, url string, body []byte) error {
	h.n++
	if h.n == 1 {
		<-h.release
		return h.err
	}
	return h.fakeSender.Send(ctx, url, body)
}

// donePager closes done once the walk has returned.
type donePager struct {
	*fakePager
	done chan struct{}
}

func (s *donePager) FetchFrom(ctx context.Context, src *pipeline.Source, w pipeline.Window, from *source.State, page func(context.Context, source.Page) error) error {
	err := s.fakePager.FetchFrom(ctx, src, w, from, page)
	close(s.done)
	return err
}

// The first batch's send fails only after the walk handed over every page
// and returned a retryable source stop: that is a lost batch, not a stop,
// so nothing is checkpointed past it.
func TestASendFailingAfterTheWalkStoppedIsNotAStop(t *testing.T) {
	fx := newFixture(t, paged(records(5, 300), 100))
	fx.pager.err = fault.Retryable(fmt.Errorf("source orders page 3: %w", &source.StatusError{StatusCode: 503}))
	walk := &donePager{fakePager: fx.pager, done: make(chan struct{})}
	fx.h.pages = walk
	unavailable := fault.Retryable(errors.New("sqs unavailable"))
	fx.h.out = &holdThenFail{fakeSender: fx.out, release: walk.done, err: unavailable}
	err := fx.handle(t, golden(t, "fetch.json"), 1)
	if !errors.Is(err, unavailable) {
		t.Fatalf("Handle: %v, want the send failure", err)
	}
	if n := fx.tr.count("checkpoint"); n != 0 {
		t.Fatalf("%d checkpoints after a lost batch", n)
	}
}

// panickingSender panics on its first Send, as an SDK bug would.
type panickingSender struct{ *fakeSender }

func (panickingSender) Send(context.Context, string, []byte) error { panic("sdk bug") }

// A panic in the goroutine that sends batches fails the message like a
// handler panic (consumer.ErrPanic, permanent); it does not take the
// process, and its other messages, down.
func TestAPanicWhileSendingFailsTheMessageNotTheProcess(t *testing.T) {
	fx := newFixture(t, paged(records(5, 300), 100))
	fx.h.out = panickingSender{fx.out}
	err := fx.handle(t, golden(t, "fetch.json"), 1)
	if !errors.Is(err, consumer.ErrPanic) || !fault.IsPermanent(err) {
		t.Fatalf("Handle: %v, want a permanent consumer.ErrPanic", err)
	}
}
