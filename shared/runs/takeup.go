package runs

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/logging"
)

// The runs table's sparse index of open runs: OpenAttribute is set (to
// "OPEN") by a claim and removed when the run ends (SUCCEEDED, FAILED,
// released), so the index holds exactly the open runs, keyed by it and
// sorted by lease_until. Attempt history items never carry it.
const (
	OpenIndex     = "open-leases"
	OpenAttribute = "lease_open"
	openValue     = "OPEN"
)

// ended lists what a run's end removes besides its lease: its place in
// the open index and its take-up count.
const ended = OpenAttribute + ", takeups, taken_up_at"

// ClassCrashed is the error class of a run the sweep gave up on: its
// worker died on it (a crash, an OOM kill, a timeout) every time it was
// taken up, up to the budget.
const ClassCrashed = "crashed"

// TakeUpOutcome is what TakeUp did.
type TakeUpOutcome int

const (
	// NotTakenUp: the run is not as the sweep read it — its lease was
	// renewed, a newer attempt or an end came, or it was taken up less
	// than a lease ago and that take-up may still be on its way. Nothing
	// changed and nothing is to be sent.
	NotTakenUp TakeUpOutcome = iota
	// TakenUp: the take-up is counted on the run; the caller sends the
	// run's input again, for dedupe to claim the next attempt.
	TakenUp
	// GivenUp: the run had been taken up the budget's number of times in
	// a row without ending; it is now FAILED with ClassCrashed.
	GivenUp
	// StuckCommitting: the run is over the budget but COMMITTING, which
	// nothing but its committer may end (its output may be published).
	// Nothing changed; a person is needed.
	StuckCommitting
)

// String names the outcome, for logs.
func (o TakeUpOutcome) String() string {
	switch o {
	case TakenUp:
		return "taken-up"
	case GivenUp:
		return "given-up"
	case StuckCommitting:
		return "stuck-committing"
	}
	return "not-taken-up"
}

// TakeUpRequest asks to take up one open run whose lease expired.
type TakeUpRequest struct {
	// Run is the run as the caller read it (Expired).
	Run Run
	// ExpiredBefore: the run's lease must have expired before this time
	// (the sweep's now less its grace, for clock skew between workers).
	ExpiredBefore time.Time
	// Max is the budget: a run taken up Max times in a row without ending
	// is failed instead (at least 1).
	Max int
}

// Expired returns up to limit open runs (CLAIMED, RUNNING, COMMITTING)
// whose lease expired before t, soonest expired first, from the sparse
// index OpenIndex — never a scan. The index is eventually consistent:
// a run may be listed that has since moved on, which TakeUp's condition
// sees.
func (s *Store) Expired(ctx context.Context, before time.Time, limit int) ([]Run, error) {
	in := &dynamodb.QueryInput{
		TableName:                aws.String(s.cfg.Table),
		IndexName:                aws.String(OpenIndex),
		KeyConditionExpression:   aws.String("#open = :open AND lease_until < :before"),
		ExpressionAttributeNames: map[string]string{"#open": OpenAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":open": str(openValue), ":before": num(before.Unix()),
		},
	}
	if limit > 0 {
		in.Limit = aws.Int32(int32(limit))
	}
	pages := dynamodb.NewQueryPaginator(s.db, in)
	var out []Run
	for pages.HasMorePages() && (limit <= 0 || len(out) < limit) {
		got, err := collect(ctx, "expired runs", onePage(), func(ctx context.Context) ([]map[string]types.AttributeValue, error) {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return nil, err
			}
			return page.Items, nil
		})
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// onePage is a collect condition that reads one page.
func onePage() func() bool {
	done := false
	return func() bool { more := !done; done = true; return more }
}

// TakeUp takes up an open run whose lease expired before
// req.ExpiredBefore, for the sweep: it counts the take-up on the run
// (TakeUps, TakenUpAt) and returns TakenUp, for the caller to send the
// run's input again — or, when the run has been taken up req.Max times
// in a row without ending, marks it FAILED (ClassCrashed, with the
// reason) and returns GivenUp. A run taken up less than a lease ago is not
// taken up again: its re-sent input may still be on its way to dedupe,
// whose claim renews the lease. The counter survives claims and goes when
// the run ends, so it counts crashes in a row. Every change is
// conditioned on the run as read: attempt, an open status and the expired
// lease; a run that moved on is NotTakenUp.
func (s *Store) TakeUp(ctx context.Context, req TakeUpRequest) (TakeUpOutcome, error) {
	r, now := req.Run, s.now().UTC()
	if req.Max < 1 {
		return NotTakenUp, fmt.Errorf("take up %s: budget %d, want at least 1", r.Input, req.Max)
	}
	values := map[string]types.AttributeValue{
		":claimed": str(string(Claimed)), ":running": str(string(Running)), ":committing": str(string(Committing)),
		":before": num(req.ExpiredBefore.Unix()), ":max": num(int64(req.Max)),
	}
	expired := "attempt = :attempt AND lease_until < :before AND "
	if r.TakeUps >= req.Max {
		if r.Status == Committing {
			return StuckCommitting, nil
		}
		delete(values, ":committing")
		values[":failed"], values[":one"], values[":zero"] = str(string(Failed)), num(1), num(0)
		values[":at"], values[":class"] = str(now.Format(time.RFC3339Nano)), str(ClassCrashed)
		values[":msg"] = str(logging.Truncate(CrashedReason(r.TakeUps), 1000))
		run, applied, err := s.tryUpdate(ctx, "give up", r.Ref(),
			"SET #st = :failed, finished_at = :at, error_class = :class, last_error = :msg, rev = if_not_exists(rev, :zero) + :one "+
				"REMOVE lease_until, checkpoint, "+ended,
			expired+"#st IN (:claimed, :running) AND takeups >= :max", values)
		if err != nil || !applied {
			return NotTakenUp, err
		}
		s.bestEffort(ctx, s.logAttempt(ctx, run, now))
		return GivenUp, nil
	}
	values[":now"], values[":again"] = num(now.Unix()), num(now.Add(-s.cfg.Lease).Unix())
	values[":one"], values[":zero"] = num(1), num(0)
	_, applied, err := s.tryUpdate(ctx, "take up", r.Ref(),
		"SET takeups = if_not_exists(takeups, :zero) + :one, taken_up_at = :now",
		expired+"#st IN (:claimed, :running, :committing) AND (attribute_not_exists(takeups) OR takeups < :max) "+
			"AND (attribute_not_exists(taken_up_at) OR taken_up_at < :again)", values)
	if err != nil || !applied {
		return NotTakenUp, err
	}
	return TakenUp, nil
}

// CrashedReason is the last_error of a run given up after n take-ups.
func CrashedReason(n int) string {
	return fmt.Sprintf("the worker died %d times on this run: crash, OOM or timeout (its lease expired each time; "+
		"taken up again %d times in a row without ending); look at the logs of its attempts, then trigger it again", n+1, n)
}

// TakeUpInput is the Input that takes run r up again: its source, window
// and trigger, not forced (a forced run that crashed is taken up by a plain
// claim of its expired lease).
func TakeUpInput(r Run) contracts.Input {
	return contracts.NewInput(r.Source, r.Window, r.Trigger, false)
}
