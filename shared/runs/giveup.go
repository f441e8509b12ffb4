package runs

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/logging"
)

// Error classes recorded on a FAILED run.
const (
	ClassPermanent        = "permanent"
	ClassRetriesExhausted = "retries-exhausted"
)

// GiveUp says whether err, met on the receiveCount-th delivery of a
// message whose queue allows maxReceive, ends the run's attempt — it is
// permanent, or it is the last delivery before the DLQ — and with which
// error class to mark it FAILED.
func GiveUp(err error, receiveCount, maxReceive int) (class string, ok bool) {
	switch {
	case err == nil || errors.Is(err, ErrFenced):
		return "", false
	case fault.IsPermanent(err):
		return ClassPermanent, true
	case receiveCount >= maxReceive:
		return ClassRetriesExhausted, true
	}
	return "", false
}

// FailOnGiveUp marks run FAILED through fail when err ends its attempt (see
// GiveUp), and returns err unchanged for the transport to act on. A run
// that cannot be marked is only logged: its lease still frees the input
// when it expires.
func FailOnGiveUp(ctx context.Context, fail func(ctx context.Context, r contracts.Run, class, msg string) error, run contracts.Run, err error, receiveCount, maxReceive int) error {
	class, ok := GiveUp(err, receiveCount, maxReceive)
	if !ok {
		return err
	}
	// The message's context may be over (a deadline, a shutdown): the run
	// must still be marked, within the store's own call timeout.
	if ferr := fail(context.WithoutCancel(ctx), run, class, err.Error()); ferr != nil && !errors.Is(ferr, ErrFenced) {
		logging.From(ctx).Warn("could not mark the run FAILED", zap.NamedError("fail_error", ferr))
	}
	return err
}
