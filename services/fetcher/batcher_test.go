package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/pack"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/source"
)

// gatedSender holds every batch Send until release is closed, and fails
// the Send numbered failAt (1-based; 0: none) with failErr.
type gatedSender struct {
	*fakeSender
	release chan struct{}
	first   chan struct{} // closed when the first Send has begun
	once    sync.Once
	mu      sync.Mutex
	sends   int
	failAt  int
	failErr error
}

func (g *gatedSender) Send(ctx context.Context, url string, body []byte) error {
	g.once.Do(func() { close(g.first) })
	<-g.release
	g.mu.Lock()
	g.sends++
	n := g.sends
	g.mu.Unlock()
	if n == g.failAt {
		g.tr.add("send")
		return g.failErr
	}
	return g.fakeSender.Send(ctx, url, body)
}

// countingPager is a fakePager that says how many pages it has handed to
// the callback.
type countingPager struct {
	*fakePager
	handed chan int // the number of each page handed over, as it goes
}

func (c *countingPager) FetchFrom(ctx context.Context, src *pipeline.Source, w pipeline.Window, from *source.State, page func(context.Context, source.Page) error) error {
	return c.fakePager.FetchFrom(ctx, src, w, from, func(ctx context.Context, p source.Page) error {
		c.handed <- p.Number
		return page(ctx, p)
	})
}

// The walk goes on while a full batch is being sent: the requests for the
// next pages go out before the send of the first batch returns, and yet
// every record lands once, in order, in the batches sent.
func TestWalkGoesOnWhileABatchIsSent(t *testing.T) {
	recs := records(4, 1200)
	pages := paged(recs, 100) // about 15 KiB of records a page: a 32 KiB message holds two or three
	fx := newFixture(t, pages)
	gate := &gatedSender{fakeSender: fx.out, release: make(chan struct{}), first: make(chan struct{})}
	fx.h.out = gate
	cp := &countingPager{fakePager: fx.pager, handed: make(chan int, len(pages))}
	fx.h.pages = cp

	result := make(chan error, 1)
	go func() { result <- fx.handle(t, golden(t, "fetch.json"), 1) }()

	deadline := time.After(10 * time.Second)
	select {
	case <-gate.first:
	case <-deadline:
		t.Fatal("no batch was sent")
	}
	// While that send is held, the walk hands over pages beyond the one
	// whose records filled the batch.
	const ahead = 3
	var handed []int
	for len(handed) == 0 || handed[len(handed)-1] < ahead {
		select {
		case n := <-cp.handed:
			handed = append(handed, n)
		case <-deadline:
			close(gate.release)
			t.Fatalf("while the first batch's send was held, the walk handed over pages %v only; want it to reach page %d", handed, ahead)
		}
	}
	close(gate.release)
	if err := <-result; err != nil {
		t.Fatal(err)
	}
	var got [][]byte
	for _, b := range sentBatches(t, fx.out.batches) {
		lines, err := pack.Lines(b)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, lines...)
	}
	if !slices.EqualFunc(got, recs, func(a, b []byte) bool { return string(a) == string(b) }) {
		t.Fatalf("the batches hold %d records, want the %d fetched, once each and in order", len(got), len(recs))
	}
}

// A batch that cannot be sent fails the try, however far the walk got
// ahead of the sender, and even when the walk then stopped on a retryable
// source error: the try is not taken for a stop, so no checkpoint names a
// page whose records were not all sent, and no Done or continuation goes.
func TestFailedSendIsNotCheckpointed(t *testing.T) {
	unavailable := fault.Retryable(errors.New("sqs unavailable"))
	tests := []struct {
		name     string
		failAt   int   // which batch send fails
		pagerErr error // what the walk ends with after its pages
	}{
		{name: "first batch, walk ends", failAt: 1},
		{name: "a middle batch, walk ends", failAt: 3},
		{name: "a middle batch, walk then stops on the source", failAt: 3,
			pagerErr: fault.Retryable(fmt.Errorf("source orders page 12: %w", &source.StatusError{StatusCode: 503}))},
		{name: "the final flush, walk ends", failAt: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pages := paged(records(5, 1200), 100)
			fx := newFixture(t, pages)
			fx.pager.err = tt.pagerErr
			gate := &gatedSender{fakeSender: fx.out, release: make(chan struct{}), first: make(chan struct{}), failAt: tt.failAt, failErr: unavailable}
			close(gate.release)
			if tt.failAt < 0 {
				gate.failAt = countBatches(t, pages)
			}
			fx.h.out = gate
			err := fx.handle(t, golden(t, "fetch.json"), 1)
			if err == nil || !errors.Is(err, unavailable) || fault.IsPermanent(err) {
				t.Fatalf("Handle: %v, want the retryable send failure", err)
			}
			if n := fx.tr.count("checkpoint"); n != 0 {
				t.Errorf("%d checkpoints, want none", n)
			}
			if len(fx.out.json) != 0 {
				t.Errorf("sent %+v, want no Done and no continuation", fx.out.json)
			}
			if gate.sends != gate.failAt {
				t.Errorf("%d batch sends, want none after the failed one (%d)", gate.sends, gate.failAt)
			}
		})
	}
}

// countBatches is how many batches a fetch of pages sends.
func countBatches(t *testing.T, pages [][][]byte) int {
	t.Helper()
	fx := newFixture(t, pages)
	if err := fx.handle(t, golden(t, "fetch.json"), 1); err != nil {
		t.Fatal(err)
	}
	return len(fx.out.batches)
}
