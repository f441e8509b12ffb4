package main

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/logging"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/sink"
)

func (c *config) Validate() error {
	return errors.Join(c.Config.Validate(), c.Runs.Validate())
}

// runStore tracks the run; *runs.Store is one.
type runStore interface {
	Get(ctx context.Context, input string) (runs.Run, error)
	BatchWritten(ctx context.Context, r contracts.Run, seq int) (runs.Run, error)
	SetTotals(ctx context.Context, r contracts.Run, batches int, records, bytes int64) (runs.Run, error)
	Commit(ctx context.Context, r contracts.Run, objects int) (bool, error)
	Fail(ctx context.Context, r contracts.Run, class, msg string) error
}

// objectStore stores batches; *sink.Sink is one.
type objectStore interface {
	PartitionPrefix(source, hivePath string) string
	PartKey(source, hivePath string, seq int) string
	WriteBatch(ctx context.Context, key string, gz []byte, records int) (sink.Written, error)
	PruneParts(ctx context.Context, prefix string, keep int) (int, error)
}

var (
	_ runStore    = (*runs.Store)(nil)
	_ objectStore = (*sink.Sink)(nil)
)

type handler struct {
	pipeline   *pipeline.Config
	runs       runStore
	sink       objectStore
	maxReceive int
}

// Handle stores one Batch, or records one Done, and commits the run when
// that completes it.
func (h *handler) Handle(ctx context.Context, m consumer.Message) error {
	kind, err := contracts.Kind(m.Body)
	if err != nil {
		return err
	}
	var (
		ref  contracts.Run
		step func() (runs.Run, error)
	)
	switch kind {
	case contracts.KindBatch:
		b, err := contracts.DecodeBatch(m.Body)
		if err != nil {
			return err
		}
		ref, step = b.Run, func() (runs.Run, error) { return h.write(ctx, b) }
	case contracts.KindDone:
		d, err := contracts.DecodeDone(m.Body)
		if err != nil {
			return err
		}
		ref, step = d.Run, func() (runs.Run, error) { return h.runs.SetTotals(ctx, d.Run, d.Batches, d.Records, d.Bytes) }
	default:
		return fault.Permanentf("writer reads batch and done messages, not %q", kind)
	}
	logging.Annotate(ctx, zap.String(logging.FieldInput, ref.Key()), zap.String(logging.FieldRunID, ref.RunID), zap.Int(logging.FieldAttempt, ref.Attempt))

	run, err := step()
	if err == nil && run.Complete() {
		err = h.commit(ctx, run)
	}
	return h.settle(ctx, m, ref, err)
}

// settle decides what an error means for the run. A fenced run drops the
// message: its attempt is no longer current, so its data must not be
// written or counted. An error that ends the attempt (permanent, or the
// last delivery) marks the run FAILED, so the input is free at once
// instead of when the lease expires.
func (h *handler) settle(ctx context.Context, m consumer.Message, ref contracts.Run, err error) error {
	if errors.Is(err, runs.ErrFenced) {
		logging.From(ctx).Warn("stale attempt: message dropped", zap.Error(err))
		return nil
	}
	return runs.FailOnGiveUp(ctx, h.runs.Fail, ref, err, m.ReceiveCount, h.maxReceive)
}

// write is the domain step for a batch: check the attempt is current,
// store the object, then count it.
func (h *handler) write(ctx context.Context, b contracts.Batch) (runs.Run, error) {
	hive, err := h.hivePath(b.Run)
	if err != nil {
		return runs.Run{}, err
	}
	cur, err := h.runs.Get(ctx, b.Key())
	if errors.Is(err, runs.ErrNotFound) {
		return runs.Run{}, fault.Permanent(fmt.Errorf("batch %d of %s: %w", b.Seq, b.Key(), err))
	}
	if err != nil {
		return runs.Run{}, err
	}
	if cur.Attempt != b.Attempt || cur.Status != runs.Running {
		return runs.Run{}, fmt.Errorf("batch %d: current run is attempt %d (%s): %w", b.Seq, cur.Attempt, cur.Status, runs.ErrFenced)
	}
	if err := b.Verify(); err != nil {
		return runs.Run{}, fault.Permanent(err)
	}
	w, err := h.sink.WriteBatch(ctx, h.sink.PartKey(b.Source, hive, b.Seq), b.Data, b.Count)
	if err != nil {
		return runs.Run{}, fmt.Errorf("batch %d: %w", b.Seq, err)
	}
	logging.From(ctx).Debug("batch written", zap.Int("seq", b.Seq), zap.String("key", w.Key), zap.Int("records", w.Records), zap.Int("bytes", w.Bytes))
	return h.runs.BatchWritten(ctx, b.Run, b.Seq)
}

// commit removes parts beyond the run's batch count (left by an earlier try
// that produced more) and marks the run SUCCEEDED.
func (h *handler) commit(ctx context.Context, run runs.Run) error {
	ref := run.Ref()
	hive, err := h.hivePath(ref)
	if err != nil {
		return err
	}
	total := *run.BatchesExpected
	pruned, err := h.sink.PruneParts(ctx, h.sink.PartitionPrefix(run.Source, hive), total)
	if err != nil {
		return err
	}
	won, err := h.runs.Commit(ctx, ref, total)
	if err != nil {
		return fmt.Errorf("commit %s: %w", run.Input, err)
	}
	if won {
		logging.From(ctx).Info("run SUCCEEDED", zap.Int("objects", total), zap.Int64("records", run.Records),
			zap.Int64("bytes", run.Bytes), zap.Int("stale_parts_removed", pruned))
	}
	return nil
}

func (h *handler) hivePath(r contracts.Run) (string, error) {
	src, ok := h.pipeline.Source(r.Source)
	if !ok {
		return "", fault.Permanentf("unknown source %q (not in the pipeline config)", r.Source)
	}
	w, err := src.Partition.ParseKey(r.Window)
	if err != nil {
		return "", fault.Permanentf("source %s: %w", r.Source, err)
	}
	return src.Partition.HivePath(w), nil
}
