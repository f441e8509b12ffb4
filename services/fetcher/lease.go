package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/logging"
	"github.com/sluice-data/sluice/shared/runs"
)

// heartbeater renews a run's lease; *runs.Store is one.
type heartbeater interface {
	Heartbeat(ctx context.Context, r contracts.Run) (time.Time, error)
}

// lease keeps a run's lease while its fetch works. It heartbeats in the
// background — a slow page does not starve it — and cancels the fetch's
// context as soon as the attempt is fenced (a newer attempt owns the
// input, or the run was released) or the lease ran out without a
// successful heartbeat (the worker was paused, or DynamoDB unreachable):
// from then on the input may belong to someone else, so this worker must
// stop sending.
type lease struct {
	hb     heartbeater
	run    contracts.Run
	every  time.Duration
	cancel context.CancelCauseFunc
	done   chan struct{}
	mu     sync.Mutex
	until  time.Time
}

// errLeaseExpired is the cause of a fetch stopped because its lease ran
// out unrenewed. The message is retried: if nobody took the input over,
// its redelivery restarts the fetch as the next attempt.
var errLeaseExpired = errors.New("lease expired without a successful heartbeat")

// keepLease starts heartbeating run, whose lease runs until until, every
// interval. The returned context is cancelled when the lease is lost;
// stop ends the heartbeats.
func keepLease(ctx context.Context, hb heartbeater, run contracts.Run, until time.Time, every time.Duration) (context.Context, *lease) {
	ctx, cancel := context.WithCancelCause(ctx)
	l := &lease{hb: hb, run: run, every: every, cancel: cancel, done: make(chan struct{}), until: until}
	go l.loop(ctx)
	return ctx, l
}

func (l *lease) loop(ctx context.Context) {
	defer close(l.done)
	t := time.NewTicker(l.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := l.check(); err != nil {
			l.cancel(err)
			return
		}
		until, err := l.hb.Heartbeat(ctx, l.run)
		switch {
		case errors.Is(err, runs.ErrFenced):
			l.cancel(err)
			return
		case err != nil:
			// Try again at the next tick; the lease is still ours until it
			// runs out (check).
			logging.From(ctx).Warn("heartbeat failed; retrying", zap.Error(err), zap.Time("lease_until", l.expiry()))
		default:
			l.mu.Lock()
			l.until = until
			l.mu.Unlock()
		}
	}
}

func (l *lease) expiry() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.until
}

// check returns an error once the lease has run out: a worker that was
// paused past its lease must not send another batch, even before its next
// heartbeat tells it it was fenced.
func (l *lease) check() error {
	if until := l.expiry(); !time.Now().Before(until) {
		return fault.Retryable(fmt.Errorf("attempt %d: %w at %s", l.run.Attempt, errLeaseExpired, until.Format(time.RFC3339)))
	}
	return nil
}

// stop ends the heartbeats and waits for the loop to exit.
func (l *lease) stop() {
	l.cancel(nil)
	<-l.done
}

// cause returns why ctx (keepLease's) was cancelled by the lease, or nil.
func (l *lease) cause(ctx context.Context) error {
	if err := context.Cause(ctx); err != nil && (errors.Is(err, runs.ErrFenced) || errors.Is(err, errLeaseExpired)) {
		return err
	}
	return nil
}
