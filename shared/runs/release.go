package runs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/logging"
)

// Fail marks the run FAILED with the error, which frees the input for the
// next claim. A COMMITTING run is not failed — its commit may have
// published the attempt, and a published run is never FAILED: Fail returns
// a *FencedError with Status COMMITTING, and a committer that knows the
// attempt is not published ends it with FailCommit.
func (s *Store) Fail(ctx context.Context, r contracts.Run, class, msg string) error {
	return s.fail(ctx, "fail", r, class, msg, Claimed, Running)
}

// FailCommit marks r's COMMITTING run FAILED with the error: only for a
// commit its caller has seen is not published (the partition's pointer
// does not show the attempt).
func (s *Store) FailCommit(ctx context.Context, r contracts.Run, class, msg string) error {
	return s.fail(ctx, "fail commit", r, class, msg, Committing)
}

// fail marks the run FAILED if its attempt is r's and its status one of from.
func (s *Store) fail(ctx context.Context, op string, r contracts.Run, class, msg string, from ...Status) error {
	now := s.now().UTC()
	values := map[string]types.AttributeValue{
		":failed": str(string(Failed)), ":one": num(1), ":zero": num(0),
		":at": str(now.Format(time.RFC3339Nano)), ":class": str(class), ":msg": str(logging.Truncate(msg, 1000)),
	}
	in := make([]string, len(from))
	for i, st := range from {
		in[i] = fmt.Sprintf(":from%d", i)
		values[in[i]] = str(string(st))
	}
	run, err := s.update(ctx, op, r,
		"SET #st = :failed, finished_at = :at, error_class = :class, last_error = :msg, rev = if_not_exists(rev, :zero) + :one REMOVE lease_until, checkpoint, "+ended,
		"attempt = :attempt AND #st IN ("+strings.Join(in, ", ")+")", values)
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
// it. It refuses while the lease is live unless force is set, refuses a
// COMMITTING run (ErrCommitting: a decided commit may publish at any
// moment, and a released attempt must never be published), and returns
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
	if cur.Status == Committing {
		return cur, fmt.Errorf("release %s: attempt %d is COMMITTING: its commit was decided and may publish at any moment, which a release cannot stop; "+
			"the writer's redelivery finishes it, and once its lease expires (%s) a new trigger takes the input over: %w",
			input, cur.Attempt, cur.LeaseExpiry().Format(time.RFC3339), ErrCommitting)
	}
	if !force && cur.LeaseUntil >= now.Unix() {
		return cur, fmt.Errorf("release %s: attempt %d (%s, owner %s) holds the lease until %s; use --force to end it anyway: %w",
			input, cur.Attempt, cur.Status, cur.Owner, cur.LeaseExpiry().Format(time.RFC3339), ErrLeaseLive)
	}
	// Fail, not COMMITTING: a commit decided since the read above is not failed.
	err = s.fail(ctx, "release", cur.Ref(), ClassReleased, reason, Claimed, Running)
	if errors.Is(err, ErrFenced) {
		return cur, fmt.Errorf("release %s: the run changed while releasing it; look again: %w", input, err)
	}
	if err != nil {
		return cur, err
	}
	return s.Get(ctx, input)
}
