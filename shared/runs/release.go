package runs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/logging"
)

// Fail marks the run FAILED with the error, which frees the input for the
// next claim.
func (s *Store) Fail(ctx context.Context, r contracts.Run, class, msg string) error {
	now := s.now().UTC()
	run, err := s.update(ctx, "fail", r,
		"SET #st = :failed, finished_at = :at, error_class = :class, last_error = :msg, rev = if_not_exists(rev, :zero) + :one REMOVE lease_until, checkpoint",
		"attempt = :attempt AND #st IN (:claimed, :running, :committing)",
		map[string]types.AttributeValue{
			":failed": str(string(Failed)), ":claimed": str(string(Claimed)), ":running": str(string(Running)),
			":committing": str(string(Committing)), ":one": num(1), ":zero": num(0),
			":at": str(now.Format(time.RFC3339Nano)), ":class": str(class), ":msg": str(logging.Truncate(msg, 1000)),
		})
	if err != nil {
		return err
	}
	s.bestEffort(ctx, s.logAttempt(ctx, run, now))
	return nil
}

// ClassReleased is the error class of a run ended by Release.
const ClassReleased = "released"

// Release ends a live run by hand: it is marked FAILED (class released,
// with reason), which frees the input and fences every worker still on
// it. It refuses while the lease is live unless force is set, and returns
// ErrNotLive for a run that has already finished.
func (s *Store) Release(ctx context.Context, input, reason string, force bool) (Run, error) {
	cur, err := s.Get(ctx, input)
	if err != nil {
		return Run{}, err
	}
	now := s.now().UTC()
	if !cur.Status.Live() {
		return cur, fmt.Errorf("release %s: attempt %d is %s: %w", input, cur.Attempt, cur.Status, ErrNotLive)
	}
	if !force && cur.LeaseUntil >= now.Unix() {
		return cur, fmt.Errorf("release %s: attempt %d (%s, owner %s) holds the lease until %s; use --force to end it anyway: %w",
			input, cur.Attempt, cur.Status, cur.Owner, cur.LeaseExpiry().Format(time.RFC3339), ErrLeaseLive)
	}
	err = s.Fail(ctx, cur.Ref(), ClassReleased, reason)
	if errors.Is(err, ErrFenced) {
		return cur, fmt.Errorf("release %s: the run changed while releasing it; look again: %w", input, err)
	}
	if err != nil {
		return cur, err
	}
	return s.Get(ctx, input)
}
