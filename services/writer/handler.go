package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/sluice-data/sluice/services/writer/blocks"
	"github.com/sluice-data/sluice/services/writer/commit"
	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/logging"
	"github.com/sluice-data/sluice/shared/metrics"
	"github.com/sluice-data/sluice/shared/pack"
	"github.com/sluice-data/sluice/shared/parquetfile"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/queue"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/service"
	"github.com/sluice-data/sluice/shared/sink"
)

func (c *config) Validate() error {
	var errs []error
	if c.BlockBatches < 1 || c.BlockBatches > 8 || c.BlockBatches&(c.BlockBatches-1) != 0 {
		// Powers of two: aligned blocks of two sizes (writers of two
		// deploys at once) nest or are apart, so an attempt's staged
		// objects always tile its batches (sink.Tile).
		errs = append(errs, fmt.Errorf("SLUICE_BLOCK_BATCHES: %d, want 1, 2, 4 or 8", c.BlockBatches))
	}
	if c.BlockWait < 0 || c.BlockWait > 10*time.Second {
		errs = append(errs, fmt.Errorf("SLUICE_BLOCK_WAIT: %v, want 0..10s", c.BlockWait))
	}
	return errors.Join(c.Config.Validate(), c.Runs.Validate(), errors.Join(errs...))
}

// blockSize is the size of the blocks the writer gathers: blocks
// (SLUICE_BLOCK_BATCHES), but no more than the messages it handles at
// once (workers), in a power of two — a block of more batches than
// handlers can never gather, and each batch would wait for it in vain.
func blockSize(blocks, workers int) int {
	size := 1
	for size*2 <= min(blocks, workers) {
		size *= 2
	}
	return size
}

// runStore tracks the run; *runs.Store is one.
type runStore interface {
	BatchWritten(ctx context.Context, r contracts.Run, seq int) (runs.Run, error)
	SetTotals(ctx context.Context, r contracts.Run, batches int, records, bytes int64) (runs.Run, error)
	Fail(ctx context.Context, r contracts.Run, class, msg string) error
}

// objectStore stores batches; *sink.Sink is one.
type objectStore interface {
	WritePart(ctx context.Context, key string, gz []byte, records int) (sink.Written, error)
}

// committer commits complete runs; *commit.Committer is one.
type committer interface {
	Commit(ctx context.Context, run runs.Run, p sink.Partition) (commit.Result, error)
	GiveUp(ctx context.Context, ref contracts.Run, p sink.Partition, class, msg string) (commit.Ending, error)
}

// sender sends a commit's continuation; *queue.Publisher is one.
type sender interface {
	SendJSON(ctx context.Context, url string, v any) error
}

// stager stages a checked batch, alone or in its block, and is told a
// run's count of batches, so that no batch waits for a block past it;
// *blocks.Stager is one.
type stager interface {
	Stage(ctx context.Context, p sink.Partition, b contracts.Batch) (sink.Written, error)
	Total(run contracts.Run, batches int)
}

var (
	_ stager      = (*blocks.Stager)(nil)
	_ runStore    = (*runs.Store)(nil)
	_ objectStore = (*sink.Sink)(nil)
	_ committer   = (*commit.Committer)(nil)
	_ sender      = (*queue.Publisher)(nil)
)

type handler struct {
	pipeline *pipeline.Config
	runs     runStore
	sink     objectStore
	layout   sink.Layout // the keys sink's objects go to
	// blocks, if set, stages batches in aligned blocks (package blocks);
	// nil: each batch as a single part in sink.
	blocks  stager
	commits committer
	// out and batchesURL: where a commit that needs another invocation
	// sends its continuation (a Done message of the run, to this queue).
	out        sender
	batchesURL string
	// metrics puts a run that SUCCEEDED or FAILED on its line (nil: none).
	metrics *metrics.Emitter
}

// Handle stores one Batch, or records one Done, and commits the run when
// that completes it.
func (h *handler) Handle(ctx context.Context, m consumer.Message) error {
	kind, b, d, err := contracts.DecodeBatchOrDone(m.Body)
	if err != nil {
		// A message of a run that this writer cannot read (a newer
		// fetcher's field, a value out of range) will never be counted:
		// its run is given up on with why (its own attempt only, fenced as
		// every failure), not left RUNNING for it.
		if ref, ok := contracts.RunOf(m.Body); ok {
			annotateRun(ctx, ref)
			return h.settle(ctx, ref, nil, err)
		}
		return err
	}
	var (
		ref  contracts.Run
		step func(sink.Partition) (runs.Run, error)
	)
	switch kind {
	case contracts.KindBatch:
		ref, step = b.Run, func(p sink.Partition) (runs.Run, error) { return h.write(ctx, p, b) }
	default: // contracts.KindDone
		if h.blocks != nil {
			h.blocks.Total(d.Run, d.Batches)
		}
		ref, step = d.Run, func(sink.Partition) (runs.Run, error) {
			return h.runs.SetTotals(ctx, d.Run, d.Batches, d.Records, d.Bytes)
		}
	}
	annotateRun(ctx, ref)

	p, err := h.partition(ref)
	if err != nil {
		return h.settle(ctx, ref, nil, err)
	}
	// A run that comes back COMMITTING had a commit of this attempt
	// interrupted (a crash, a timeout): the message that finds it finishes it.
	run, err := step(p)
	if err == nil && (run.Status == runs.Committing || run.Complete()) {
		// This message commits: giving up on it is the commit's to decide.
		return h.settle(ctx, ref, &commitOf{run: run, p: p}, h.commit(ctx, run, p))
	}
	return h.settle(ctx, ref, nil, err)
}

// annotateRun puts the run a message is of on every log line of its
// handling.
func annotateRun(ctx context.Context, ref contracts.Run) {
	logging.Annotate(ctx, zap.String(logging.FieldInput, ref.Key()), zap.String(logging.FieldRunID, ref.RunID), zap.Int(logging.FieldAttempt, ref.Attempt))
}

// commitOf is the commit a message's error came from: the run as the
// message committed it, and its partition.
type commitOf struct {
	run runs.Run
	p   sink.Partition
}

// settle decides what an error means for the run. A fenced run drops the
// message: its attempt is no longer current, so its data must not be
// counted or published. Otherwise giving up on the message (a permanent
// error, or the last delivery: consumer.GiveUp) ends the run, so the input
// is free at once instead of when the lease expires: FAILED — or, when
// its attempt is committing, as the commit's GiveUp decides from what the
// partition shows (a published run is finished, never FAILED). A run that
// SUCCEEDED, or that a newer attempt owns, meanwhile supersedes the
// message, which is deleted on its last delivery.
//
// committed is the commit when err is the error of this message's own
// commit, nil otherwise.
func (h *handler) settle(ctx context.Context, ref contracts.Run, committed *commitOf, err error) error {
	if errors.Is(err, runs.ErrFenced) {
		logging.From(ctx).Warn("stale attempt: message dropped", zap.Error(err))
		return nil
	}
	consumer.OnGiveUp(ctx, func(ctx context.Context, class string, cause error) (consumer.Fate, error) {
		err := h.runs.Fail(ctx, ref, class, cause.Error())
		var fenced *runs.FencedError
		switch {
		case err == nil:
			service.RunFailed(ctx, h.metrics, ref, class)
		case errors.As(err, &fenced) && fenced.Status == runs.Committing && fenced.Attempt == ref.Attempt && committed == nil:
			// Another message commits this attempt, and COMMITTING means
			// every batch and the total are counted: this message's work
			// is done. Failing the run here could fail a commit that is
			// about to publish.
			return consumer.Superseded, nil
		case errors.As(err, &fenced) && fenced.Status == runs.Committing && fenced.Attempt == ref.Attempt:
			// This message's own commit failed: the commit's GiveUp
			// decides from what the partition shows.
			end, err := h.commits.GiveUp(ctx, ref, committed.p, class, cause.Error())
			if err != nil {
				return consumer.Unfinished, err
			}
			ended := zap.Skip() // EndedSucceededBefore: its finisher counted it
			switch end {
			case commit.EndedFailed:
				ended = h.metrics.Source(ref.Source, metrics.RunsFailed.Int(1))
			case commit.EndedSucceeded:
				ended = h.succeeded(committed.run, committed.run.Records)
			}
			logging.From(ctx).Info("commit given up on: run "+end.String(), zap.String("give_up_class", class), ended)
			if end != commit.EndedFailed {
				return consumer.Superseded, nil
			}
			return consumer.Unfinished, nil
		case errors.As(err, &fenced) && fenced.Superseded():
			return consumer.Superseded, nil
		case err != nil && !errors.Is(err, runs.ErrFenced):
			return consumer.Unfinished, fmt.Errorf("mark run %s FAILED: %w", ref.Key(), err)
		}
		return consumer.Unfinished, nil
	})
	return err
}

// write is the domain step for a batch: check it, store it under its
// attempt's keys (as a single part, or in its block), then count it — the count is conditioned on the attempt
// being current, so a stale attempt's object is never counted (it stays in
// its own attempt's keys, which nothing reads, until a later commit
// removes it).
func (h *handler) write(ctx context.Context, p sink.Partition, b contracts.Batch) (runs.Run, error) {
	if err := pack.Verify(b); err != nil {
		return runs.Run{}, fault.Permanent(err)
	}
	w, err := h.stage(ctx, p, b)
	if err != nil {
		return runs.Run{}, fmt.Errorf("batch %d: %w", b.Seq, err)
	}
	logging.From(ctx).Debug("batch written", zap.Int("seq", b.Seq), zap.String("key", w.Key), zap.Int("records", w.Records),
		zap.Int("bytes", w.Bytes), zap.Bool("existed", w.Existed))
	run, err := h.runs.BatchWritten(ctx, b.Run, b.Seq)
	if err == nil && run.BatchesExpected != nil && h.blocks != nil {
		h.blocks.Total(b.Run, *run.BatchesExpected) // the run's Done came first, perhaps to another writer
	}
	return run, err
}

func (h *handler) stage(ctx context.Context, p sink.Partition, b contracts.Batch) (sink.Written, error) {
	if h.blocks == nil {
		return h.sink.WritePart(ctx, h.layout.PartKey(p, b.Attempt, b.Seq), b.Data, b.Count)
	}
	return h.blocks.Stage(ctx, p, b)
}

// commit commits run. A commit whose compaction needs another invocation
// continues in one: the run's Done message again, which finds the run
// COMMITTING and resumes the compaction after its last file.
func (h *handler) commit(ctx context.Context, run runs.Run, p sink.Partition) error {
	res, err := h.commits.Commit(ctx, run, p)
	if res.FailedClass != "" {
		service.RunFailed(ctx, h.metrics, run.Ref(), res.FailedClass)
	}
	if err != nil {
		return fmt.Errorf("commit %s: %w", run.Input, err)
	}
	if res.Mismatches > 0 {
		// The column and reason, not the value: logs hold no payload.
		fields := []zap.Field{zap.Int64("values", res.Mismatches)}
		if first := (*parquetfile.MismatchError)(nil); errors.As(res.FirstMismatch, &first) {
			fields = append(fields, zap.String("first_column", first.Column), zap.String("first_reason", first.Reason))
		}
		logging.From(ctx).Warn("values that did not fit their column written as NULL; the record column keeps them", fields...)
	}
	if res.SchemaChange != "" {
		logging.From(ctx).Warn("schema changed: the source's files were last published with another schema",
			zap.String("schema", res.Schema), zap.String("schema_before", res.SchemaChange))
	}
	if res.Continue {
		if run.BatchesExpected == nil {
			return fault.Permanentf("commit %s: continue a run without a batch count", run.Input)
		}
		done := contracts.NewDone(run.Ref(), *run.BatchesExpected, run.Records, run.Bytes)
		if err := h.out.SendJSON(ctx, h.batchesURL, done); err != nil {
			return fmt.Errorf("commit %s: send its continuation: %w", run.Input, err)
		}
		logging.From(ctx).Info("commit continues in a new invocation", zap.Int("files_written", res.Compacted), zap.Duration("compaction", res.CompactTime))
		return nil
	}
	if res.Finished {
		logging.From(ctx).Info("run SUCCEEDED", zap.Int("objects", res.Objects), zap.Int64("records", res.Records),
			zap.Int64("bytes", run.Bytes), zap.Bool("published", res.Published), zap.Int("replaced_attempt", res.Replaced),
			zap.Int("old_objects_removed", res.Removed), zap.Int("files_written", res.Compacted), zap.Int("staged_parts_removed", res.Staged),
			zap.Int64("staged_bytes", res.StagedBytes), zap.Int64("file_bytes", res.FileBytes), zap.Duration("compaction", res.CompactTime),
			zap.String("schema", res.Schema), h.succeeded(run, res.Records))
	}
	return nil
}

func (h *handler) partition(r contracts.Run) (sink.Partition, error) {
	src, w, err := h.pipeline.Lookup(r.Source, r.Window)
	if err != nil {
		return sink.Partition{}, err
	}
	return sink.Partition{Source: r.Source, Hive: src.Partition.HivePath(w)}, nil
}

// succeeded is the field that puts a run that SUCCEEDED on its line as
// metrics of its source: the run, its records and bytes, its attempt
// number, and the time from the attempt's claim to now.
func (h *handler) succeeded(run runs.Run, records int64) zap.Field {
	ms := []metrics.Metric{metrics.RunsSucceeded.Int(1), metrics.Records.Int(records), metrics.Bytes.Int(run.Bytes),
		metrics.Attempts.Int(int64(run.Attempt))}
	if claimed, err := time.Parse(time.RFC3339Nano, run.ClaimedAt); err == nil {
		ms = append(ms, metrics.RunDuration.Duration(max(0, time.Since(claimed))))
	}
	return h.metrics.Source(run.Source, ms...)
}
