package service

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/logging"
	"github.com/sluice-data/sluice/shared/metrics"
	"github.com/sluice-data/sluice/shared/runs"
)

// RunFailer marks runs FAILED; *runs.Store is one.
type RunFailer interface {
	Fail(ctx context.Context, r contracts.Run, class, msg string) error
}

var _ RunFailer = (*runs.Store)(nil)

// FailRun is what giving up on a message means for the run it worked on
// (consumer.OnGiveUp): FAILED, so that its input is free at once, and the
// message kept (parked) for a redrive. A run fenced meanwhile is no longer
// this message's to fail: when it SUCCEEDED or a newer attempt owns it,
// the message is superseded (deleted on its last delivery); otherwise
// (FAILED already, COMMITTING, or gone) it is left as it is and the
// message kept. A run it marks FAILED gets a "run FAILED" line with the
// RunsFailed metric of its source (em; nil: none).
func FailRun(f RunFailer, run contracts.Run, em *metrics.Emitter) consumer.GiveUpFunc {
	return func(ctx context.Context, class string, cause error) (consumer.Fate, error) {
		err := f.Fail(ctx, run, class, cause.Error())
		var fenced *runs.FencedError
		switch {
		case err == nil:
			RunFailed(ctx, em, run, class)
		case errors.As(err, &fenced) && fenced.Superseded():
			return consumer.Superseded, nil
		case err != nil && !errors.Is(err, runs.ErrFenced):
			return consumer.Unfinished, fmt.Errorf("mark run %s FAILED: %w", run.Key(), err)
		}
		return consumer.Unfinished, nil
	}
}

// RunFailed logs that run was marked FAILED with class, on a line that
// carries the RunsFailed metric of its source (em; nil: none). The error
// itself is on the message's outcome line.
func RunFailed(ctx context.Context, em *metrics.Emitter, run contracts.Run, class string) {
	logging.From(ctx).Info("run FAILED", zap.String("error_class", class), em.Source(run.Source, metrics.RunsFailed.Int(1)))
}
