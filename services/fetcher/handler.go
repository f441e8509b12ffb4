package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/logging"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/queue"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/source"
)

func (c *config) Validate() error {
	errs := []error{c.Config.Validate(), c.Runs.Validate()}
	if c.MaxMessageBytes < 32<<10 || c.MaxMessageBytes > queue.MaxMessageBytes {
		errs = append(errs, fmt.Errorf("SLUICE_MAX_MESSAGE_BYTES: %d, want 32768..%d", c.MaxMessageBytes, queue.MaxMessageBytes))
	}
	return errors.Join(errs...)
}

// runStore tracks the run; *runs.Store is one.
type runStore interface {
	Start(ctx context.Context, r contracts.Run, fetchMsg string) (runs.Run, error)
	heartbeater
	Yield(ctx context.Context, r contracts.Run) error
	Fail(ctx context.Context, r contracts.Run, class, msg string) error
}

// pager walks a source's pages; *source.Client is one.
type pager interface {
	Fetch(ctx context.Context, src *pipeline.Source, w pipeline.Window, page func(context.Context, source.Page) error) error
}

// sender publishes messages; *queue.Publisher is one.
type sender interface {
	Send(ctx context.Context, url string, body []byte) error
	SendJSON(ctx context.Context, url string, v any) error
}

var (
	_ runStore = (*runs.Store)(nil)
	_ pager    = (*source.Client)(nil)
	_ sender   = (*queue.Publisher)(nil)
)

type handler struct {
	pipeline   *pipeline.Config
	runs       runStore
	pages      pager
	out        sender
	batchesURL string
	maxMessage int
	maxReceive int
	heartbeat  time.Duration
}

// Handle fetches the input of one Fetch message.
func (h *handler) Handle(ctx context.Context, m consumer.Message) error {
	f, err := contracts.DecodeFetch(m.Body)
	if err != nil {
		return err
	}
	logging.Annotate(ctx, zap.String(logging.FieldInput, f.Key()), zap.String(logging.FieldRunID, f.RunID), zap.Int(logging.FieldAttempt, f.Attempt))

	run, started, err := h.fetch(ctx, f, m.ID)
	if errors.Is(err, runs.ErrFenced) {
		logging.From(ctx).Warn("run fenced: a newer attempt owns the input or the run is over; stopping", zap.Error(err))
		return nil
	}
	if _, giveUp := runs.GiveUp(err, m.ReceiveCount, h.maxReceive); err != nil && !giveUp && started {
		// The try is over and its message will come back: let the
		// redelivery restart at once instead of waiting out the lease.
		if yerr := h.runs.Yield(ctx, run); yerr != nil && !errors.Is(yerr, runs.ErrFenced) {
			logging.From(ctx).Warn("could not yield the run; its redelivery waits for the lease", zap.NamedError("yield_error", yerr))
		}
	}
	return runs.FailOnGiveUp(ctx, h.runs.Fail, run, err, m.ReceiveCount, h.maxReceive)
}

// fetch is the domain step: start the run, page through the source and
// pass the records on in batches. It returns the run it worked as: the
// message's, or the next attempt when the message is a redelivery.
func (h *handler) fetch(ctx context.Context, f contracts.Fetch, msgID string) (run contracts.Run, started bool, err error) {
	run = f.Run
	src, ok := h.pipeline.Source(f.Source)
	if !ok {
		return run, false, fault.Permanentf("unknown source %q (not in the pipeline config)", f.Source)
	}
	w, err := src.Partition.ParseKey(f.Window)
	if err != nil {
		return run, false, fault.Permanentf("source %s: %w", f.Source, err)
	}
	cur, err := h.runs.Start(ctx, f.Run, msgID)
	if err != nil {
		return run, false, err
	}
	if run = cur.Ref(); run.Attempt != f.Attempt {
		logging.Annotate(ctx, zap.Int(logging.FieldAttempt, run.Attempt))
		logging.From(ctx).Info("fetch message delivered again: restarting as a new attempt", zap.Int("previous_attempt", f.Attempt))
	}

	begin := time.Now()
	ctx, lease := keepLease(ctx, h.runs, run, cur.LeaseExpiry(), h.heartbeat)
	defer lease.stop()
	b := &batcher{h: h, run: run, packer: contracts.NewPacker(run, h.maxMessage), lease: lease}
	err = h.pages.Fetch(ctx, src, w, b.page)
	if err == nil {
		err = b.flush(ctx)
	}
	if cause := lease.cause(ctx); cause != nil {
		return run, true, fmt.Errorf("fetch %s stopped: %w", f.Key(), cause)
	}
	if err != nil {
		return run, true, fmt.Errorf("fetch %s: %w", f.Key(), err)
	}
	done := contracts.NewDone(run, b.packer.Batches(), b.records, b.bytes)
	if err := h.out.SendJSON(ctx, h.batchesURL, done); err != nil {
		return run, true, fmt.Errorf("send done of %s: %w", f.Key(), err)
	}
	logging.From(ctx).Info("fetched",
		zap.Int("batches", done.Batches), zap.Int64("records", done.Records), zap.Int64("bytes", done.Bytes),
		zap.Int("pages", b.pages), zap.Duration("elapsed", time.Since(begin)))
	return run, true, nil
}

// batcher packs the records of one run into batch messages as pages arrive.
type batcher struct {
	h       *handler
	run     contracts.Run
	packer  *contracts.Packer
	records int64
	bytes   int64
	pages   int
	lease   *lease
}

func (b *batcher) page(ctx context.Context, p source.Page) error {
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
