package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/metrics"
	"github.com/sluice-data/sluice/shared/pack"
	"github.com/sluice-data/sluice/shared/source"
)

// The batcher's pipeline: the walk hands each page to a packing goroutine
// and goes on to the next request while the page is compressed; a full
// batch goes to a sending goroutine while the next one is packed. Both
// queues are short, so that memory stays a few pages and batches, and a
// walk that outruns the packer waits for it. A sliced walk holds more
// before the queue: each of its N slices may hold one page waiting for its
// turn here, plus up to pagination.concurrency read ahead (a style whose
// pages are known in advance), so up to N × (1 + concurrency) pages besides
// these queues — and a hand-over or a stop drops all but the one handed
// over, to be fetched again by the next hop.
const (
	pageQueue = 2 // fetched pages waiting for the packer
	sendQueue = 1 // full batches waiting for the sender, besides the one it sends
)

// batcher packs the records of one run into batch messages as pages arrive.
// Between start and wait, page is the walk's callback; the totals (records,
// bytes, pages, next) and the packer are the packing goroutine's and are
// read only after wait, when every page handed over is packed and every
// full batch sent: a checkpoint made then names only pages whose records
// are in sent batches, or in the batch the final flush sends.
type batcher struct {
	h       *handler
	run     contracts.Run
	packer  *pack.Packer
	records int64
	bytes   int64
	pages   int
	lease   *lease
	began   time.Time
	resume  *source.State // where the next invocation goes on, after a hand-over
	next    *source.State // the Next of the last page whose records were all packed
	from    *source.State // where this invocation's walk began; nil: the first page
	// slices, for a source with partition.slices, is where each slice's
	// walk stands after the last of its pages packed (nil: not sliced).
	slices []source.Slice
	// slicesLeft is how many slices the walk has not handed over the last
	// page of yet (the walk's: read and written in page only).
	slicesLeft int
	// pagesBefore and stops are the checkpoint's Pages and Stops.
	pagesBefore, stops int
	failed             bool // the page callback or the pipeline failed: the walk did not stop on the source

	queue   chan source.Page // to the packer
	full    chan batchBody   // to the sender
	packed  chan struct{}    // closed when the packer is done
	sent    chan struct{}    // closed when the sender is done
	stopped chan struct{}    // closed on the pipeline's first error
	once    sync.Once
	err     error // the pipeline's first error, set before stopped is closed
	// closeOnce closes queue.
	closeOnce sync.Once
	// counts tallies this invocation's 429s, 5xx and retries (the walk's
	// context carries it: source.WithCounts).
	counts source.Counts
}

// runMetrics is the field that puts this invocation's walk on the line
// that ends it (package metrics): its pages, the API's 429s and 5xx, the
// retries, and extra.
func (b *batcher) runMetrics(extra ...metrics.Metric) zap.Field {
	return b.h.metrics.Source(b.run.Source, append([]metrics.Metric{
		metrics.Pages.Int(int64(b.pages - b.pagesBefore)),
		metrics.API429.Int(b.counts.TooManyRequests.Load()),
		metrics.API5xx.Int(b.counts.ServerErrors.Load()),
		metrics.Retries.Int(b.counts.Retries.Load()),
	}, extra...)...)
}

// batchBody is a flushed batch on its way to the sender.
type batchBody struct {
	seq  int
	body []byte
}

// start starts the packing and sending goroutines; wait ends them.
func (b *batcher) start(ctx context.Context) {
	b.queue = make(chan source.Page, pageQueue)
	b.full = make(chan batchBody, sendQueue)
	b.packed, b.sent, b.stopped = make(chan struct{}), make(chan struct{}), make(chan struct{})
	go b.packLoop(ctx)
	go b.sendLoop(ctx)
}

// wait waits until every page handed over is packed and every full batch
// sent, and returns the pipeline's first error. The batch being packed is
// left for flush. It may be called again (a deferred call, so that a walk
// that panics leaves no goroutine behind).
func (b *batcher) wait() error {
	b.closeOnce.Do(func() { close(b.queue) })
	<-b.packed
	<-b.sent
	if b.err != nil {
		b.failed = true
	}
	return b.err
}

// fail records the pipeline's first error and stops it.
func (b *batcher) fail(err error) {
	b.once.Do(func() {
		b.err = err
		close(b.stopped)
	})
}

// page hands p to the packer, waiting while it is busy with the pages
// before, and says when the walk hands over. A sliced walk calls it one
// page at a time too (source.Client.FetchSlices), and may hand over after
// the last page of one slice while others have pages left.
func (b *batcher) page(ctx context.Context, p source.Page) (err error) {
	defer func() { b.failed = err != nil && !errors.Is(err, errHandOff) }()
	select {
	case b.queue <- p:
	case <-b.stopped:
		return b.err
	}
	more := p.Next != nil
	if b.slices != nil {
		if p.Next == nil {
			b.slicesLeft--
		}
		more = b.slicesLeft > 0
	}
	if more && b.h.handoff.due(ctx, b.began) {
		b.resume = p.Next
		return errHandOff
	}
	return nil
}

// packLoop packs the pages the walk hands over, in order; after an error
// it only drains the queue. Each page is released once packed (or
// dropped): its records point into its body (source.Page.Release), and
// pack reads them only while it runs — Packer.Add compresses each record
// into the batch, and nothing else keeps one — so the walk may read the
// next pages into its buffer.
func (b *batcher) packLoop(ctx context.Context) {
	defer close(b.packed)
	defer close(b.full)
	defer b.recoverPanic(ctx)
	for p := range b.queue {
		select {
		case <-b.stopped:
			p.Release()
			continue
		default:
		}
		err := b.pack(ctx, p)
		p.Release()
		if err != nil {
			b.fail(err)
		}
	}
}

// sendLoop sends the full batches; after an error it only drains them.
func (b *batcher) sendLoop(ctx context.Context) {
	defer close(b.sent)
	defer b.recoverPanic(ctx)
	for f := range b.full {
		select {
		case <-b.stopped:
			continue
		default:
		}
		if err := b.send(ctx, f); err != nil {
			b.fail(err)
		}
	}
}

// recoverPanic makes a panic of the packing or sending goroutine the
// pipeline's error, logged with its stack, as the consumer's guard does for the handler's own
// goroutine (which cannot recover another's): the message fails, the
// process and its other messages go on. The packer's pending hand-overs
// see stopped and return.
func (b *batcher) recoverPanic(ctx context.Context) {
	if r := recover(); r != nil {
		b.fail(consumer.Panicked(ctx, r))
	}
}

// pack adds the records of p to the batch, handing each full batch to the
// sender, and counts the page once all its records are packed.
func (b *batcher) pack(ctx context.Context, p source.Page) error {
	for i, rec := range p.Records {
		rec, err := oneLine(rec)
		if err != nil {
			return fault.Permanentf("%s record %d: %w", b.where(p), i, err)
		}
		if len(rec) > b.packer.MaxRecord() {
			return fault.Permanentf("%s record %d is %d bytes; the largest record one message can carry is %d", b.where(p), i, len(rec), b.packer.MaxRecord())
		}
		if !b.packer.Fits(rec) {
			body, err := b.packer.Flush()
			if err != nil {
				return fault.Permanent(err)
			}
			select {
			case b.full <- batchBody{seq: b.packer.Batches() - 1, body: body}:
			case <-b.stopped:
				return b.err
			}
		}
		if err := b.packer.Add(rec); err != nil {
			return fault.Permanent(err)
		}
		b.records++
	}
	b.bytes += int64(p.Bytes)
	b.pages++
	b.next = p.Next
	if b.slices != nil {
		b.slices[p.Slice] = source.Slice{Next: p.Next, Done: p.Next == nil}
	}
	return nil
}

// where names page p for an error: "page 3", or "slice 2 page 3" in a
// sliced walk, whose page numbers count within a slice.
func (b *batcher) where(p source.Page) string {
	if b.slices != nil {
		return fmt.Sprintf("slice %d page %d", p.Slice, p.Number)
	}
	return fmt.Sprintf("page %d", p.Number)
}

// flush sends the batch being packed, if it holds any record. Call it
// after wait.
func (b *batcher) flush(ctx context.Context) error {
	body, err := b.packer.Flush()
	if err != nil {
		return fault.Permanent(err)
	}
	if body == nil {
		return nil
	}
	return b.send(ctx, batchBody{seq: b.packer.Batches() - 1, body: body})
}

// send sends one batch, unless the lease has run out.
func (b *batcher) send(ctx context.Context, f batchBody) error {
	if err := b.lease.check(); err != nil {
		return err
	}
	if err := b.h.out.Send(ctx, b.h.batchesURL, f.body); err != nil {
		return fmt.Errorf("send batch %d: %w", f.seq, err)
	}
	return nil
}

// oneLine returns rec without line breaks, so that it is one line of JSON
// Lines. Most APIs send compact JSON, which is returned as is.
func oneLine(rec []byte) ([]byte, error) {
	if bytes.IndexByte(rec, '\n') < 0 && bytes.IndexByte(rec, '\r') < 0 {
		return rec, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, rec); err != nil {
		return nil, fmt.Errorf("record is not valid JSON: %w", err)
	}
	return buf.Bytes(), nil
}
