package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/contracts"
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
// message kept.
func FailRun(f RunFailer, run contracts.Run) consumer.GiveUpFunc {
	return func(ctx context.Context, class string, cause error) (consumer.Fate, error) {
		err := f.Fail(ctx, run, class, cause.Error())
		var fenced *runs.FencedError
		switch {
		case errors.As(err, &fenced) && fenced.Superseded():
			return consumer.Superseded, nil
		case err != nil && !errors.Is(err, runs.ErrFenced):
			return consumer.Unfinished, fmt.Errorf("mark run %s FAILED: %w", run.Key(), err)
		}
		return consumer.Unfinished, nil
	}
}
