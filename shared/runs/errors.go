package runs

import (
	"errors"
	"fmt"
	"time"

	"github.com/sluice-data/sluice/shared/contracts"
)

var (
	// ErrClaimLost means another claim holds the input, or it already
	// succeeded. It is an expected outcome, not a failure.
	ErrClaimLost = errors.New("claim lost")
	// ErrFenced means the run's attempt is no longer the current one, or the
	// run is already finished: the caller must stop and change nothing.
	ErrFenced = errors.New("run fenced: attempt is not current")
	// ErrNotFound means there is no run for the input.
	ErrNotFound = errors.New("run not found")
	// ErrNotLive means the run has finished: there is nothing to release.
	ErrNotLive = errors.New("run is not live")
	// ErrLeaseLive means the run's lease has not expired.
	ErrLeaseLive = errors.New("lease is live")
	// ErrCommitting means the run's commit was decided: its output may be
	// published at any moment, so it cannot be released.
	ErrCommitting = errors.New("run is committing")
)

// ClaimLostError says who holds the input.
type ClaimLostError struct {
	Input   string
	Status  Status
	Attempt int
	Until   time.Time
}

func (e *ClaimLostError) Error() string {
	if e.Status == Succeeded {
		return fmt.Sprintf("claim %s: already SUCCEEDED by attempt %d; a plain trigger does not rerun it (use a forced trigger)", e.Input, e.Attempt)
	}
	return fmt.Sprintf("claim %s: held by attempt %d (%s) until %s", e.Input, e.Attempt, e.Status, e.Until.Format(time.RFC3339))
}

func (e *ClaimLostError) Unwrap() error { return ErrClaimLost }

// FencedError is ErrFenced for one operation: the caller must stop and
// change nothing. Attempt and Status say how the run stands, for the
// message only (Status is empty when there is no run).
type FencedError struct {
	Op      string
	Ref     contracts.Run
	Attempt int
	Status  Status
}

func (e *FencedError) Error() string {
	cur := "no run"
	if e.Status != "" {
		cur = fmt.Sprintf("current attempt %d is %s", e.Attempt, e.Status)
	}
	return fmt.Sprintf("%s %s attempt %d: %v (%s)", e.Op, e.Ref.Key(), e.Ref.Attempt, ErrFenced, cur)
}

func (e *FencedError) Unwrap() error { return ErrFenced }

// Superseded reports whether the input has moved past the fenced attempt
// for good: the attempt SUCCEEDED, or a newer attempt owns the input. A
// message of that attempt is then no longer needed by anyone. (A run that
// FAILED as the same attempt, or is gone, is not superseded: its messages
// are what a redrive needs.)
func (e *FencedError) Superseded() bool {
	return e.Attempt > e.Ref.Attempt || (e.Attempt == e.Ref.Attempt && e.Status == Succeeded)
}

// fenced is the error of op on r when the run stands as cur (the zero Run:
// there is none).
func fenced(op string, r contracts.Run, cur Run) error {
	return &FencedError{Op: op, Ref: r, Attempt: cur.Attempt, Status: cur.Status}
}

// LeaseHeldError is the error of a start or continuation by the fetch
// message that holds its run, while an earlier try of that message — in
// another process, maybe dead, maybe stalled — still holds the lease of
// the attempt the message has become (Attempt: its own, or the restart of
// its own). It is retryable, after the lease (fault.Delay). The message is
// the run's only one: nothing newer supersedes it.
type LeaseHeldError struct {
	Input   string
	Attempt int
	Until   time.Time
	Owner   string
}

func (e *LeaseHeldError) Error() string {
	return fmt.Sprintf("start %s: attempt %d of this fetch still holds the lease until %s (owner %s)",
		e.Input, e.Attempt, e.Until.Format(time.RFC3339), e.Owner)
}
