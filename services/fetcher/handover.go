package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/handover"
	"github.com/sluice-data/sluice/shared/logging"
	"github.com/sluice-data/sluice/shared/metrics"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/queue"
	"github.com/sluice-data/sluice/shared/runs"
)

// resume reads the checkpoint that hop continues from. One cut under a
// config of the source other than src's (its fingerprint differs, or it
// has none) cannot be continued without mixing the two in one attempt:
// the fetch restarts from the first page as the next attempt, and resume
// returns that run and no checkpoint.
func (h *handler) resume(ctx context.Context, f contracts.Fetch, msgID string, src *pipeline.Source, cur runs.Run, hop int) (runs.Run, *checkpoint, error) {
	var cp checkpoint
	if err := json.Unmarshal([]byte(cur.Checkpoint), &cp); err != nil {
		return cur, nil, fault.Permanent(fmt.Errorf("hop %d of %s: unreadable checkpoint: %w", hop, f.Key(), err))
	}
	if handover.Continues(cp.Fingerprint, src) {
		return cur, &cp, nil
	}
	fp := src.Fingerprint()
	was := cp.Fingerprint
	if was == "" {
		was = "none"
	}
	why := fmt.Sprintf("hop %d: the config of source %s changed since the checkpoint (fingerprint %s, now %s); the fetch restarted from the first page", hop, f.Source, was, fp)
	next, err := h.runs.Restart(ctx, cur.Ref(), msgID, why)
	if err != nil {
		return cur, nil, fmt.Errorf("restart %s after a config change: %w", f.Key(), err)
	}
	logging.Annotate(ctx, zap.Int(logging.FieldAttempt, next.Attempt))
	logging.From(ctx).Warn("the source's config changed between hand-overs: restarting the fetch from the first page as a new attempt",
		zap.Int("hop", hop), zap.String("checkpoint_fingerprint", was), zap.String("config_fingerprint", fp), zap.Int("previous_attempt", cur.Attempt))
	return next, nil, nil
}

// handOver checkpoints the walk in the run record, with the fingerprint
// of src's config, then sends the message that continues it. The
// checkpoint is conditioned on the attempt and the hop, so a fenced or
// duplicated invocation cannot write one.
func (h *handler) handOver(ctx context.Context, f contracts.Fetch, src *pipeline.Source, run contracts.Run, hop int, b *batcher) error {
	cp := checkpoint{Fingerprint: src.Fingerprint(), Batches: b.packer.Batches(), Records: b.records, Bytes: b.bytes, Pages: b.pages}
	if b.slices != nil {
		// Every page handed over is packed (wait): each slice goes on
		// after the last of its own.
		cp.Slices = b.slices
	} else {
		cp.Page = *b.resume
	}
	if err := h.continueAt(ctx, f, run, hop, cp, 0); err != nil {
		return err
	}
	logging.From(ctx).Info("handed over to a new invocation", zap.Int("next_hop", hop+1), zap.Int("batches", b.packer.Batches()),
		zap.Int64("records", b.records), zap.Int("pages", b.pages), zap.Duration("elapsed", time.Since(b.began)), b.runMetrics(metrics.HandOvers.Int(1)))
	return nil
}

// stop keeps the progress of a walk that a retryable error ended (a
// Retry-After longer than retry.max_retry_after, failures past
// retry.max_attempts, a page that ran into the invocation's deadline):
// after the batches of every page it got are sent, it checkpoints the
// page it stopped on, as a hand-over does, and sends the continuation to
// come back when the API allows (its Retry-After; without one, at once if
// the walk got pages, else after a backoff). The attempt stays the same,
// so nothing already sent is fetched again. A walk that stops more than
// maxStops times in a row without getting a page cannot progress: it
// fails, permanent, with the reason (handover.StopPolicy decides).
func (h *handler) stop(ctx context.Context, f contracts.Fetch, src *pipeline.Source, run contracts.Run, hop int, b *batcher, cause error) error {
	cp := checkpoint{Fingerprint: src.Fingerprint(), Batches: b.packer.Batches(), Records: b.records, Bytes: b.bytes, Pages: b.pages}
	progressed := b.pages > b.pagesBefore
	switch {
	case b.slices != nil:
		cp.Slices = b.slices // each slice goes on after the last of its pages packed
	case progressed && b.next != nil:
		cp.Page = *b.next
	case b.from != nil:
		cp.Page = *b.from
	default:
		cp.Start = true
	}
	next, err := handover.StopPolicy{Max: h.maxStops, Backoff: h.stopBackoff}.After(b.stops, progressed, cause)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", f.Key(), err)
	}
	cp.Stops = next.Stops
	cp.NotBefore = time.Now().Add(next.Wait).UnixMilli()
	if err := h.continueAt(ctx, f, run, hop, cp, next.Wait); err != nil {
		return err
	}
	logging.From(ctx).Warn("the source stopped the fetch; it goes on from the page it stopped on",
		zap.NamedError("stop", cause), zap.Int("next_hop", hop+1), zap.Duration("wait", next.Wait), zap.Int("pages", b.pages), zap.Int("stops_without_progress", cp.Stops),
		b.runMetrics(metrics.Stops.Int(1)))
	return nil
}

// wait hands a continuation that came before the checkpoint's NotBefore
// (a wait longer than one message's delay) on to the next hop, as is.
func (h *handler) wait(ctx context.Context, f contracts.Fetch, run contracts.Run, hop int, cp *checkpoint) error {
	wait := time.Until(time.UnixMilli(cp.NotBefore))
	if err := h.continueAt(ctx, f, run, hop, *cp, wait); err != nil {
		return err
	}
	logging.From(ctx).Info("waiting for the source to allow the fetch to go on", zap.Int("next_hop", hop+1), zap.Duration("wait", wait))
	return nil
}

// continueAt checkpoints cp for hop, the lease held over wait, and sends
// the continuation of hop+1 delayed by wait (up to SQS's longest delay; a
// continuation that comes before cp.NotBefore waits on, see wait).
func (h *handler) continueAt(ctx context.Context, f contracts.Fetch, run contracts.Run, hop int, cp checkpoint, wait time.Duration) error {
	state, err := json.Marshal(cp)
	if err != nil {
		return fault.Permanent(fmt.Errorf("encode checkpoint: %w", err))
	}
	if err := h.runs.CheckpointFor(ctx, run, hop, string(state), wait); err != nil {
		return fmt.Errorf("checkpoint hop %d of %s: %w", hop, f.Key(), err)
	}
	if err := h.out.SendJSONAfter(ctx, h.fetchURL, contracts.NewContinuation(run, f.Trigger, hop+1), min(wait, queue.MaxDelay)); err != nil {
		return fmt.Errorf("send continuation %d of %s: %w", hop+1, f.Key(), err)
	}
	return nil
}
