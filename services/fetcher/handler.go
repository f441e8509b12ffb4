package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/awsconf"
	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/logging"
	"github.com/sluice-data/sluice/shared/metrics"
	"github.com/sluice-data/sluice/shared/pack"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/queue"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/service"
	"github.com/sluice-data/sluice/shared/source"
)

func (c *config) Validate() error {
	errs := []error{c.Config.Validate(), c.Runs.Validate()}
	if c.MaxMessageBytes < 32<<10 || c.MaxMessageBytes > queue.MaxMessageBytes {
		errs = append(errs, fmt.Errorf("SLUICE_MAX_MESSAGE_BYTES: %d, want 32768..%d", c.MaxMessageBytes, queue.MaxMessageBytes))
	}
	if c.MaxStops < 1 || c.StopBackoff <= 0 {
		errs = append(errs, fmt.Errorf("SLUICE_MAX_STOPS %d / SLUICE_STOP_BACKOFF %v: want at least 1 / more than 0", c.MaxStops, c.StopBackoff))
	}
	if c.HandoffMargin < 0 || c.HandoffAfter < 0 {
		errs = append(errs, fmt.Errorf("SLUICE_HANDOFF_MARGIN %v / SLUICE_HANDOFF_AFTER %v: must not be negative", c.HandoffMargin, c.HandoffAfter))
	}
	return errors.Join(errs...)
}

// runStore tracks the run; *runs.Store is one.
type runStore interface {
	StartHop(ctx context.Context, r contracts.Run, fetchMsg string, hop int) (runs.Run, error)
	CheckpointFor(ctx context.Context, r contracts.Run, hop int, state string, wait time.Duration) error
	Restart(ctx context.Context, r contracts.Run, fetchMsg, why string) (runs.Run, error)
	heartbeater
	Yield(ctx context.Context, r contracts.Run, fetchMsg string) error
	Fetched(ctx context.Context, r contracts.Run, fetchMsg string) error
	Fail(ctx context.Context, r contracts.Run, class, msg string) error
}

// pager walks a source's pages, from the first or from a checkpoint:
// the window whole (FetchFrom), or its time slices concurrently, their
// pages handed over one at a time (FetchSlices, for partition.slices);
// *source.Client is one.
type pager interface {
	FetchFrom(ctx context.Context, src *pipeline.Source, w pipeline.Window, from *source.State, page func(context.Context, source.Page) error) error
	FetchSlices(ctx context.Context, src *pipeline.Source, w pipeline.Window, from []source.Slice, page func(context.Context, source.Page) error) error
}

// sender publishes messages; *queue.Publisher is one.
type sender interface {
	Send(ctx context.Context, url string, body []byte) error
	SendJSON(ctx context.Context, url string, v any) error
	SendJSONAfter(ctx context.Context, url string, v any, delay time.Duration) error
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
	fetchURL   string // where continuations go
	batchesURL string
	maxMessage int
	heartbeat  time.Duration
	handoff    handoff
	// maxStops is how many stops in a row without a new page an attempt
	// may make before it fails; stopBackoff the first wait after a stop
	// that came with no Retry-After (doubling per stop, up to MaxDelay).
	maxStops    int
	stopBackoff time.Duration
	// metrics puts each invocation's walk on the line that ends it (nil:
	// none).
	metrics *metrics.Emitter
}

// handoff says when a fetch hands over to a new invocation: when less
// than Margin is left before the invocation's deadline (Lambda's timeout,
// the poller's handle timeout), or after After (0: never), whichever
// comes first — always after at least one page, so every hop progresses.
type handoff struct {
	Margin time.Duration
	After  time.Duration
}

func (o handoff) due(ctx context.Context, began time.Time) bool {
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < o.Margin {
		return true
	}
	return o.After > 0 && time.Since(began) >= o.After
}

// checkpoint is what a fetch that hands over leaves in the run record for
// the next invocation: where the walk goes on, and the totals so far.
// Fingerprint is the source's config fingerprint the walk was cut under
// (pipeline.Source.Fingerprint): a continuation under a config with
// another one (a deploy between hops) restarts the fetch from the first
// page rather than mix two configs in one attempt.
type checkpoint struct {
	Fingerprint string       `json:"fingerprint"`
	Page        source.State `json:"page"`
	Batches     int          `json:"batches"`
	Records     int64        `json:"records"`
	Bytes       int64        `json:"bytes"`
	Pages       int          `json:"pages"`
	// Start: the walk goes on from the first page (a stop came before the
	// attempt had any); Page is then unused.
	Start bool `json:"start,omitempty"`
	// Slices, for a source with partition.slices, is where each time
	// slice's walk goes on (or that it is done), after the last of its
	// pages packed; Page and Start are then unused. Absent for a source
	// without slices, whose checkpoints keep the shape they always had.
	Slices []source.Slice `json:"slices,omitempty"`
	// Stops counts the stops in a row that fetched no page (see stop).
	Stops int `json:"stops,omitempty"`
	// NotBefore (Unix ms) is when the API allows the walk to go on: a
	// continuation that comes earlier only waits on (see wait).
	NotBefore int64 `json:"not_before,omitempty"`
}

// errHandOff stops a walk that is to continue in a new invocation.
var errHandOff = errors.New("handing over to a new invocation")

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
	var held *runs.LeaseHeldError
	if errors.As(err, &held) {
		// An earlier try of this message (its own attempt, or the restart
		// of it) still holds the lease: the message is the run's only
		// one, so it is kept, and the run is left to its lease, which the
		// scheduler's sweep takes up once it runs out.
		consumer.OnGiveUp(ctx, leaveToLease)
	} else {
		consumer.OnGiveUp(ctx, service.FailRun(h.runs, run, h.metrics))
	}
	if err != nil && !fault.IsPermanent(err) && !m.Last && started {
		// The try is over and its message will come back: let the
		// redelivery restart at once instead of waiting out the lease.
		// The message's context may be over (a deadline, a shutdown).
		if yerr := h.runs.Yield(context.WithoutCancel(ctx), run, m.ID); yerr != nil && !errors.Is(yerr, runs.ErrFenced) {
			logging.From(ctx).Warn("could not yield the run; its redelivery waits for the lease", zap.NamedError("yield_error", yerr))
		}
	}
	return err
}

// leaveToLease gives up on a message whose run another try holds: nothing
// to fail, and the message is kept.
func leaveToLease(context.Context, string, error) (consumer.Fate, error) {
	return consumer.Unfinished, nil
}

// fetch is the domain step: start the run, page through the source and
// pass the records on in batches. It returns the run it worked as: the
// message's, or the next attempt when the message is a redelivery.
func (h *handler) fetch(ctx context.Context, f contracts.Fetch, msgID string) (run contracts.Run, started bool, err error) {
	run = f.Run
	src, w, err := h.pipeline.Lookup(f.Source, f.Window)
	if err != nil {
		return run, false, err
	}
	cur, err := h.runs.StartHop(ctx, f.Run, msgID, f.Hop)
	if err != nil {
		return run, false, err
	}
	hop := f.Hop
	if run = cur.Ref(); run.Attempt != f.Attempt {
		hop = 0 // a restart begins again from the first page
		logging.Annotate(ctx, zap.Int(logging.FieldAttempt, run.Attempt))
		logging.From(ctx).Info("fetch message delivered again: restarting as a new attempt", zap.Int("previous_attempt", f.Attempt))
	}

	var cp *checkpoint
	if hop > 0 {
		if cur, cp, err = h.resume(ctx, f, msgID, src, cur, hop); err != nil {
			return run, true, err
		}
		if cp == nil {
			run, hop = cur.Ref(), 0
		}
	}
	if cp != nil && time.Until(time.UnixMilli(cp.NotBefore)) > time.Second {
		return run, true, h.wait(ctx, f, run, hop, cp)
	}

	begin := time.Now()
	ctx, lease := keepLease(ctx, h.runs, run, cur.LeaseExpiry(), h.heartbeat)
	defer lease.stop()
	b := &batcher{h: h, run: run, packer: pack.New(run, h.maxMessage), lease: lease, began: begin}
	var from *source.State
	if cp != nil && !cp.Start {
		from = &cp.Page
	}
	sliced := src.Partition.Sliced()
	if sliced {
		b.slices = make([]source.Slice, len(src.Partition.SlicesOf(w)))
		if cp != nil && cp.Slices != nil {
			b.slices = append([]source.Slice(nil), cp.Slices...)
		}
		for _, s := range b.slices {
			if !s.Done {
				b.slicesLeft++
			}
		}
	}
	if cp != nil {
		b.from = from
		b.stops, b.pagesBefore = cp.Stops, cp.Pages
		b.packer.ContinueAt(cp.Batches)
		b.records, b.bytes, b.pages = cp.Records, cp.Bytes, cp.Pages
		logging.From(ctx).Info("continuing a fetch", zap.Int("hop", hop), zap.Int("batches_before", cp.Batches), zap.Int("pages_before", cp.Pages))
	}
	b.start(ctx)
	defer func() { _ = b.wait() }() // a walk that panics leaves no goroutine behind; the call below reports the error
	if sliced {
		err = h.pages.FetchSlices(source.WithCounts(ctx, &b.counts), src, w, slices.Clone(b.slices), b.page)
	} else {
		err = h.pages.FetchFrom(source.WithCounts(ctx, &b.counts), src, w, from, b.page)
	}
	if perr := b.wait(); perr != nil {
		err = perr // what the walk fetched could not all be sent
	}
	handOff := errors.Is(err, errHandOff)
	var stop error // a retryable stop of the source's walk
	sctx := ctx
	if err != nil && !handOff && !b.failed && !fault.IsPermanent(err) && lease.cause(ctx) == nil {
		stop, err = err, nil
		// The try's context may be over (its deadline, a shutdown): what
		// the walk got is still sent and checkpointed, within a few calls'
		// time.
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 3*awsconf.CallTimeout)
		defer cancel()
	}
	if err == nil || handOff || stop != nil {
		err = b.flush(sctx)
	}
	if cause := lease.cause(ctx); cause != nil {
		return run, true, fmt.Errorf("fetch %s stopped: %w", f.Key(), cause)
	}
	if err != nil {
		return run, true, fmt.Errorf("fetch %s: %w", f.Key(), err)
	}
	if stop != nil {
		// No heartbeat may shorten the lease the checkpoint stretches over
		// the wait.
		lease.stop()
		return run, true, h.stop(sctx, f, src, run, hop, b, stop)
	}
	if handOff {
		return run, true, h.handOver(ctx, f, src, run, hop, b)
	}
	// The run says its fetch finished before the Done goes: from then on
	// the sweep leaves it to its queued batches (a fenced try sends none).
	if err := h.runs.Fetched(ctx, run, msgID); err != nil {
		return run, true, fmt.Errorf("fetch %s: %w", f.Key(), err)
	}
	done := contracts.NewDone(run, b.packer.Batches(), b.records, b.bytes)
	if err := h.out.SendJSON(ctx, h.batchesURL, done); err != nil {
		return run, true, fmt.Errorf("send done of %s: %w", f.Key(), err)
	}
	logging.From(ctx).Info("fetched",
		zap.Int("batches", done.Batches), zap.Int64("records", done.Records), zap.Int64("bytes", done.Bytes),
		zap.Int("pages", b.pages), zap.Int("hops", hop), zap.Duration("elapsed", time.Since(begin)), b.runMetrics())
	return run, true, nil
}
