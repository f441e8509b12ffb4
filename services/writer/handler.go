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
	pipeline *pipeline.Config
	runs     runStore
	sink     objectStore
}

// Handle stores one Batch, or records one Done, and commits the run when
// that completes it.
func (h *handler) Handle(ctx context.Context, m consumer.Message) error {
	kind, err := contracts.Kind(m.Body)
	if err != nil {
		return err
	}
	var run runs.Run
	switch kind {
	case contracts.KindBatch:
		b, err := contracts.DecodeBatch(m.Body)
		if err != nil {
			return err
		}
		annotate(ctx, b.Run)
		run, err = h.write(ctx, b)
		if err != nil {
			return h.settle(ctx, err)
		}
	case contracts.KindDone:
		d, err := contracts.DecodeDone(m.Body)
		if err != nil {
			return err
		}
		annotate(ctx, d.Run)
		run, err = h.runs.SetTotals(ctx, d.Run, d.Batches, d.Records, d.Bytes)
		if err != nil {
			return h.settle(ctx, err)
		}
	default:
		return fault.Permanentf("writer reads batch and done messages, not %q", kind)
	}
	if !run.Complete() {
		return nil
	}
	return h.settle(ctx, h.commit(ctx, run))
}

func annotate(ctx context.Context, r contracts.Run) {
	logging.Annotate(ctx, zap.String(logging.FieldInput, r.Key()), zap.String(logging.FieldRunID, r.RunID), zap.Int(logging.FieldAttempt, r.Attempt))
}

// settle turns a fenced run into a dropped message: the attempt it belongs
// to is no longer current, so its data must not be written or counted.
func (h *handler) settle(ctx context.Context, err error) error {
	if errors.Is(err, runs.ErrFenced) {
		logging.From(ctx).Warn("stale attempt: message dropped", zap.Error(err))
		return nil
	}
	return err
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
