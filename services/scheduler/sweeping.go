package main

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/sluice-data/sluice/services/scheduler/sweep"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/logging"
)

// sweeper runs one sweep; *sweep.Sweeper is one.
type sweeper interface {
	Sweep(ctx context.Context) (sweep.Report, error)
}

var _ sweeper = (*sweep.Sweeper)(nil)

// sweepEvent is the detail-type of the event the sweep's EventBridge rule
// sends (its target's input), which HandleEvent tells from a schedule.
const sweepEvent = "Sluice Sweep"

// defaultFreshnessBudget bounds one sweep's freshness reads: well inside
// the scheduler's minute, after the sweep's own work.
const defaultFreshnessBudget = 15 * time.Second

// runSweep runs one sweep and logs what it did, then reports every
// source's freshness within its own budget (measuring must never starve
// the take-ups and DLQ reconcile, nor outlive the invocation); the
// sweep's error is returned for the caller to log or return, once.
func (h *handler) runSweep(ctx context.Context) (sweep.Report, error) {
	rep, err := h.sweep.Sweep(ctx)
	budget := h.freshnessBudget
	if budget <= 0 {
		budget = defaultFreshnessBudget
	}
	fctx, cancel := context.WithTimeout(ctx, budget)
	h.reportFreshness(fctx)
	cancel()
	if err != nil {
		return rep, fault.Retryable(err)
	}
	if rep != (sweep.Report{}) {
		logging.From(ctx).Info("sweep", zap.Int("expired", rep.Expired), zap.Int("taken_up", rep.TakenUp), zap.Int("given_up", rep.GivenUp),
			zap.Int("stuck_committing", rep.Stuck), zap.Int("dlq_deleted", rep.Deleted), zap.Int("dlq_parked", rep.Parked),
			zap.Int("dlq_left", rep.Left), zap.Int("dlq_unreadable", rep.Unreadable))
	}
	return rep, nil
}

// sweepEvery runs a sweep every interval until ctx ends (the poller's
// transport; on Lambda the sweep's EventBridge rule invokes it). A sweep
// that fails is logged and the next one tries again.
func sweepEvery(ctx context.Context, log *zap.Logger, h *handler, interval time.Duration) {
	log.Info("sweeping", zap.Duration("every", interval))
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sctx, scope := logging.WithScope(ctx, log)
		if _, err := h.runSweep(sctx); err != nil {
			scope.Logger().Warn("sweep failed; the next one tries again", zap.Error(err))
		}
	}
}
