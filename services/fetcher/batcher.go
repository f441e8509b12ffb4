package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/metrics"
	"github.com/sluice-data/sluice/shared/pack"
	"github.com/sluice-data/sluice/shared/source"
)

// batcher packs the records of one run into batch messages as pages arrive.
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
	// pagesBefore and stops are the checkpoint's Pages and Stops.
	pagesBefore, stops int
	failed             bool // the page callback failed: the walk did not stop on the source
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

func (b *batcher) page(ctx context.Context, p source.Page) (err error) {
	defer func() { b.failed = err != nil && !errors.Is(err, errHandOff) }()
	for i, rec := range p.Records {
		rec, err := oneLine(rec)
		if err != nil {
			return fault.Permanentf("page %d record %d: %w", p.Number, i, err)
		}
		if len(rec) > b.packer.MaxRecord() {
			return fault.Permanentf("page %d record %d is %d bytes; the largest record one message can carry is %d", p.Number, i, len(rec), b.packer.MaxRecord())
		}
		if !b.packer.Fits(rec) {
			if err := b.flush(ctx); err != nil {
				return err
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
	if p.Next != nil && b.h.handoff.due(ctx, b.began) {
		b.resume = p.Next
		return errHandOff
	}
	return nil
}

func (b *batcher) flush(ctx context.Context) error {
	if err := b.lease.check(); err != nil {
		return err
	}
	body, err := b.packer.Flush()
	if err != nil {
		return fault.Permanent(err)
	}
	if body == nil {
		return nil
	}
	if err := b.h.out.Send(ctx, b.h.batchesURL, body); err != nil {
		return fmt.Errorf("send batch %d: %w", b.packer.Batches()-1, err)
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
