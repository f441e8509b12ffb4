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
const ended = OpenAttribute + ", takeups, taken_up_at, takeup_attempt"

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

// Expired returns up to limit runs the sweep may take up — a fetch in
// progress (RUNNING, not Fetched) or a commit (COMMITTING) — whose lease
// expired before t and that were not taken up less than a lease ago,
// soonest expired first, from the sparse index OpenIndex, never a scan.
// Open runs it does not take up (CLAIMED: their fetch message is queued;
// fetched: their batches are) are read past, filtered out, as are the
// ones taken up recently, within ExpiredReads pages of ExpiredPage index
// entries: they cannot starve the runs behind them unless there are more
// than that many. The index is eventually consistent: a run may be listed
// that has since moved on, which TakeUp's condition sees.
func (s *Store) Expired(ctx context.Context, before time.Time, limit int) ([]Run, error) {
	in := &dynamodb.QueryInput{
		TableName:                aws.String(s.cfg.Table),
		IndexName:                aws.String(OpenIndex),
		KeyConditionExpression:   aws.String("#open = :open AND lease_until < :before"),
		FilterExpression:         aws.String("(#st = :committing OR (#st = :running AND attribute_not_exists(fetched))) AND (attribute_not_exists(taken_up_at) OR taken_up_at < :again)"),
		ExpressionAttributeNames: map[string]string{"#open": OpenAttribute, "#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":open": str(openValue), ":before": num(before.Unix()),
			":running": str(string(Running)), ":committing": str(string(Committing)),
			":again": num(s.now().Add(-s.cfg.Lease).Unix()),
		},
		Limit: aws.Int32(ExpiredPage),
	}
	pages := dynamodb.NewQueryPaginator(s.db, in)
	var out []Run
	for read := 0; read < ExpiredReads && pages.HasMorePages() && (limit <= 0 || len(out) < limit); read++ {
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

// Expired's bound: it reads at most ExpiredReads pages of ExpiredPage
// entries of the open index per call.
const (
	ExpiredPage  = 100
	ExpiredReads = 10
)

// onePage is a collect condition that reads one page.
func onePage() func() bool {
	done := false
	return func() bool { more := !done; done = true; return more }
}

// TakeUp takes up a run Expired listed, for the sweep: a fetch in
// progress (RUNNING, not Fetched) or a commit whose lease expired before
// req.ExpiredBefore. It records the take-up on the run (TakeUps,
// TakenUpAt, TakeUpAttempt) and returns TakenUp, for the caller to send
// the run's input again (contracts.Input.TakeUp) — or, when the run has
// been taken up req.Max times in a row without ending, marks it FAILED
// (ClassCrashed, with the reason) and returns GivenUp.
//
// Every send counts: a take-up whose input has not been claimed a lease
// later (lost, still queued, or refused by dedupe — its source removed) is
// sent again and counted again, so a take-up that is never claimed ends
// too. The give-up comes only once the last take-up had its chance: its
// claim came (a newer attempt than the one taken up) and that attempt's
// worker died too, or a whole lease passed since it was sent. A run taken up less than a lease ago is
// not taken up again: its re-sent input may still be on its way to
// dedupe. The count survives claims and goes when the run ends, so it
// counts crashes in a row. Every change is conditioned on the run as
// read: attempt, status and the expired lease; a run that moved on, and a
// CLAIMED or fetched run, is NotTakenUp.
func (s *Store) TakeUp(ctx context.Context, req TakeUpRequest) (TakeUpOutcome, error) {
	r, now := req.Run, s.now().UTC()
	if req.Max < 1 {
		return NotTakenUp, fmt.Errorf("take up %s: budget %d, want at least 1", r.Input, req.Max)
	}
	if !TakesUp(r) {
		return NotTakenUp, nil
	}
	values := map[string]types.AttributeValue{
		":running": str(string(Running)), ":committing": str(string(Committing)),
		":before": num(req.ExpiredBefore.Unix()), ":max": num(int64(req.Max)),
	}
	expired := "attempt = :attempt AND lease_until < :before AND "
	again := now.Add(-s.cfg.Lease).Unix()
	if r.TakeUps >= req.Max && (r.TakeUpAttempt < r.Attempt || r.TakenUpAt < again) {
		if r.Status == Committing {
			return StuckCommitting, nil
		}
		delete(values, ":committing")
		values[":failed"], values[":one"], values[":zero"] = str(string(Failed)), num(1), num(0)
		values[":at"], values[":class"] = str(now.Format(time.RFC3339Nano)), str(ClassCrashed)
		values[":msg"], values[":again"] = str(logging.Truncate(CrashedReason(r.TakeUps), 1000)), num(again)
		run, applied, err := s.tryUpdate(ctx, "give up", r.Ref(),
			"SET #st = :failed, finished_at = :at, error_class = :class, last_error = :msg, rev = if_not_exists(rev, :zero) + :one "+
				"REMOVE lease_until, checkpoint, "+ended,
			expired+"#st = :running AND attribute_not_exists(fetched) AND takeups >= :max AND "+
				"(attribute_not_exists(takeup_attempt) OR takeup_attempt < :attempt OR taken_up_at < :again)", values)
		if err != nil || !applied {
			return NotTakenUp, err
		}
		s.bestEffort(ctx, s.logAttempt(ctx, run, now))
		return GivenUp, nil
	}
	values[":now"], values[":again"] = num(now.Unix()), num(again)
	open := expired + "(#st = :committing OR (#st = :running AND attribute_not_exists(fetched))) AND (attribute_not_exists(taken_up_at) OR taken_up_at < :again) AND "
	if r.TakeUps > 0 && r.TakeUpAttempt == r.Attempt {
		// The last take-up of this attempt was not claimed: sent again,
		// and counted.
		values[":one"] = num(1)
		_, applied, err := s.tryUpdate(ctx, "take up again", r.Ref(), "SET taken_up_at = :now, takeups = takeups + :one",
			open+"takeup_attempt = :attempt AND takeups < :max", values)
		if err != nil || !applied {
			return NotTakenUp, err
		}
		return TakenUp, nil
	}
	values[":one"], values[":zero"] = num(1), num(0)
	_, applied, err := s.tryUpdate(ctx, "take up", r.Ref(),
		"SET takeups = if_not_exists(takeups, :zero) + :one, taken_up_at = :now, takeup_attempt = :attempt",
		open+"(attribute_not_exists(takeups) OR takeups < :max) AND (attribute_not_exists(takeup_attempt) OR takeup_attempt < :attempt)", values)
	if err != nil || !applied {
		return NotTakenUp, err
	}
	return TakenUp, nil
}

// TakesUp reports whether the sweep takes up run r once its lease
// expired: a fetch in progress or a commit, whose worker held it and
// stopped renewing. A CLAIMED run is not (its work has not started: its
// fetch message is queued, or in the fetch DLQ), nor a RUNNING run whose
// fetch finished (its batches are queued, or in the batches DLQ): neither
// has a worker to have died, and a take-up would fence queued work.
func TakesUp(r Run) bool {
	return r.Status == Committing || (r.Status == Running && !r.Fetched)
}

// CrashedReason is the last_error of a run given up after n take-ups.
func CrashedReason(n int) string {
	return fmt.Sprintf("the worker died on this run, and it was taken up again %d times in a row without ending: "+
		"its worker died each time (crash, OOM or timeout: its lease expired), or a take-up was never claimed "+
		"(dedupe refused it — look at the inputs DLQ — or was down); look at the logs of its attempts, then trigger it again", n)
}

// TakeUpInput is the Input that takes run r up again: its source, window
// and trigger, not forced (a forced run that crashed is taken up by a plain
// claim of its expired lease), marked TakeUp (see ClaimRequest.TakeUp).
func TakeUpInput(r Run) contracts.Input {
	in := contracts.NewInput(r.Source, r.Window, r.Trigger, false)
	in.TakeUp = true
	return in
}
