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

// FencedError is ErrFenced with the run as it stands, when the store read
// it back: the caller may have work to resume (a COMMITTING run of its own
// attempt) or only to drop.
type FencedError struct {
	Op      string
	Ref     contracts.Run
	Current *Run // nil when the run does not exist
}

func (e *FencedError) Error() string {
	cur := "no run"
	if e.Current != nil {
		cur = fmt.Sprintf("current attempt %d is %s", e.Current.Attempt, e.Current.Status)
	}
	return fmt.Sprintf("%s %s attempt %d: %v (%s)", e.Op, e.Ref.Key(), e.Ref.Attempt, ErrFenced, cur)
}

func (e *FencedError) Unwrap() error { return ErrFenced }

// CurrentOf returns the run a fenced error read back, if any.
func CurrentOf(err error) (Run, bool) {
	var fe *FencedError
	if errors.As(err, &fe) && fe.Current != nil {
		return *fe.Current, true
	}
	return Run{}, false
}
