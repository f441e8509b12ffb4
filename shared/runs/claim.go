package runs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sluice-data/sluice/shared/awsconf"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/fault"
)

// ClaimRequest asks for an input.
type ClaimRequest struct {
	Source, Window string
	Trigger        string
	Force          bool
	// MessageID is the id of the queue message asking. The same message
	// claiming again (a redelivery after a crash between claim and hand-off)
	// gets its own claim back, as long as no fetch has started on it.
	MessageID string
	// ForceID identifies a forced rerun request: a SUCCEEDED input is rerun
	// once per ForceID, so a duplicated forced trigger does not run twice.
	ForceID string
	// Floor is the highest attempt the sink already holds for the input's
	// partition (sink.HighestAttempt): the new attempt is numbered above it
	// as well as above the run's own counter, so that a lost, replaced or
	// restored run item never reuses an attempt number. 0: none.
	Floor int
	// TakeUp says the input was sent by the sweep to take up a dead
	// worker's run (contracts.Input.TakeUp): it claims only a fetch in
	// progress or a commit whose lease expired — never a free, FAILED,
	// CLAIMED or fetched run, so that a late copy of it neither reopens
	// a run the take-up budget FAILED nor fences queued work.
	TakeUp bool
}

// Claim takes the input for a new attempt, or returns an error wrapping
// ErrClaimLost (a *ClaimLostError) when it is not free. It writes only the
// run item, which is also the new attempt's entry in the history (see
// History) until a later transition logs it; only a claim that took over
// a live attempt (its lease expired) writes a second item, that attempt's
// history, ABANDONED.
//
// An input with nothing in the bucket (Floor 0) most likely has no run
// yet: its claim is first one conditional PutItem of the new run item
// (attribute_not_exists), the cheapest write there is. Only when a run
// item is there does it take the second request, the conditional
// UpdateItem that numbers the attempt on from the run's counter — which
// is also the first and only request of a claim with a floor, or of a
// take-up (there is a run to count on from).
func (s *Store) Claim(ctx context.Context, req ClaimRequest) (Run, error) {
	key := contracts.InputKey(req.Source, req.Window)
	now := s.now().UTC()
	cond := "attribute_not_exists(pk) OR (#st IN (:claimed, :running, :committing) AND lease_until < :now) OR #st = :failed"
	if req.TakeUp {
		cond = "((#st = :running AND attribute_not_exists(fetched)) OR #st = :committing) AND lease_until < :now"
	}
	setForce := ""
	if req.Force && req.TakeUp {
		return Run{}, fault.Permanentf("claim %s: a take-up is never forced", key)
	}
	if req.Force {
		if req.ForceID == "" {
			return Run{}, fault.Permanentf("claim %s: a forced claim needs a force id", key)
		}
		cond += " OR (#st = :succeeded AND (attribute_not_exists(force_id) OR force_id <> :fid))"
		setForce = ", force_id = :fid"
	}
	runID := newRunID()
	if req.Floor == 0 && !req.TakeUp {
		// An item that exists but does not decode (err with exists) is left
		// to the update below, whose condition decides and whose result is
		// decoded again.
		run, exists, err := s.create(ctx, req, key, now, runID)
		if !exists {
			return run, err
		}
	}
	values := map[string]types.AttributeValue{
		":claimed":    str(string(Claimed)),
		":running":    str(string(Running)),
		":committing": str(string(Committing)),
		":failed":     str(string(Failed)),
		":now":        num(now.Unix()),
		":zero":       num(0),
		":one":        num(1),
		":rid":        str(runID),
		":msg":        str(req.MessageID),
		":lease":      num(now.Add(s.cfg.Lease).Unix()),
		":at":         str(now.Format(time.RFC3339Nano)),
		":trig":       str(req.Trigger),
		":source":     str(req.Source),
		":window":     str(req.Window),
		":owner":      str(s.cfg.Owner),
		":open":       str(openValue),
	}
	if req.TakeUp {
		delete(values, ":failed")
	}
	if req.Force {
		values[":succeeded"] = str(string(Succeeded))
		values[":fid"] = str(req.ForceID)
	}
	// The attempt is one above the run's counter and above the floor:
	// counted on from the counter when that is at the floor or above, else
	// from the floor — two conditional writes, the second only when the
	// first found the counter below the floor (or no run).
	if req.Floor == 0 {
		run, _, err := s.claim(ctx, req, key, now, false, "if_not_exists(attempt, :zero) + :one", cond, setForce, values)
		return run, err
	}
	values[":floor"] = num(int64(req.Floor))
	run, below, err := s.claim(ctx, req, key, now, false, "attempt + :one", "("+cond+") AND attempt >= :floor", setForce, values)
	if !below {
		return run, err
	}
	values[":above"] = num(int64(req.Floor) + 1)
	run, _, err = s.claim(ctx, req, key, now, true, ":above", "("+cond+") AND (attribute_not_exists(attempt) OR attempt < :floor)", setForce, values)
	return run, err
}

// claim is one conditional claim write that numbers the attempt by
// attemptExpr: one above the run's counter, or one above req.Floor when
// fromFloor. below reports a lost condition that found the run's counter
// below req.Floor (or no run), for the caller to try the variant that
// numbers from the floor.
//
// The write returns the run as it was (ALL_OLD), which the claimed run is
// derived from (claimed) — so that a take-over can log the attempt it
// replaced without reading it first.
func (s *Store) claim(ctx context.Context, req ClaimRequest, key string, now time.Time, fromFloor bool, attemptExpr, cond, setForce string, values map[string]types.AttributeValue) (run Run, below bool, err error) {
	cctx, cancel := context.WithTimeout(ctx, awsconf.CallTimeout)
	defer cancel()
	out, err := s.db.UpdateItem(cctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.cfg.Table),
		Key:       itemKey(key),
		UpdateExpression: aws.String("SET #st = :claimed, attempt = " + attemptExpr + ", run_id = :rid, " +
			"claim_msg = :msg, lease_until = :lease, claimed_at = :at, #trig = :trig, #source = :source, #window = :window, " +
			"#owner = :owner, #records = :zero, #bytes = :zero, objects = :zero, rev = if_not_exists(rev, :zero) + :one, " + OpenAttribute + " = :open" + setForce + " " +
			"REMOVE started_at, finished_at, batches_expected, written, error_class, last_error, expires_at, fetch_msg, checkpoint, hops, taken, yielded, fetched"),
		ConditionExpression:                 aws.String(cond),
		ExpressionAttributeNames:            map[string]string{"#st": "status", "#trig": "trigger", "#source": "source", "#window": "window", "#records": "records", "#bytes": "bytes", "#owner": "owner"},
		ExpressionAttributeValues:           values,
		ReturnValues:                        types.ReturnValueAllOld,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		old, derr := decodeRun(ccf.Item)
		if derr != nil {
			return Run{}, false, derr
		}
		if ownClaim(old, req) {
			return old, false, nil
		}
		lost := &ClaimLostError{Input: key, Status: old.Status, Attempt: old.Attempt, Until: old.LeaseExpiry()}
		return Run{}, old.Attempt < req.Floor, lost
	}
	if err != nil {
		return Run{}, false, fault.Retryable(fmt.Errorf("claim %s: %w", key, err))
	}
	prev, err := decodeRun(out.Attributes)
	if err != nil {
		return Run{}, false, err
	}
	attempt := prev.Attempt + 1
	if fromFloor {
		attempt = req.Floor + 1
	}
	run = claimed(prev, req, key, attempt, values)
	if prev.Status.Live() {
		s.bestEffort(ctx, s.logAbandoned(ctx, prev, run.Rev, now, classLeaseExpired, "lease expired; taken over by a new claim"))
	}
	return run, false, nil
}

// create is the claim of an input that has no run item: one PutItem of
// the new run item, conditioned on there being none. exists reports that
// there is one that may be free, for the caller to claim it by update;
// one that is not free is this message's own claim, returned as the
// update's failure would return it, or lost.
func (s *Store) create(ctx context.Context, req ClaimRequest, key string, now time.Time, runID string) (run Run, exists bool, err error) {
	run = Run{
		Input: key, Source: req.Source, Window: req.Window, Status: Claimed, Attempt: 1,
		RunID: runID, Trigger: req.Trigger, Owner: s.cfg.Owner, ClaimMessage: req.MessageID,
		LeaseUntil: now.Add(s.cfg.Lease).Unix(), ClaimedAt: now.Format(time.RFC3339Nano), Rev: 1,
	}
	if req.Force {
		run.ForceID = req.ForceID
	}
	item, err := attributevalue.MarshalMap(run)
	if err != nil {
		return Run{}, false, fault.Permanent(fmt.Errorf("claim %s: encode the run: %w", key, err))
	}
	item["sk"], item[OpenAttribute] = str(skRun), str(openValue)
	cctx, cancel := context.WithTimeout(ctx, awsconf.CallTimeout)
	defer cancel()
	_, err = s.db.PutItem(cctx, &dynamodb.PutItemInput{
		TableName:                           aws.String(s.cfg.Table),
		Item:                                item,
		ConditionExpression:                 aws.String("attribute_not_exists(pk)"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		old, derr := decodeRun(ccf.Item)
		if derr != nil {
			return Run{}, true, derr
		}
		switch {
		case claimable(old, req, now):
			return Run{}, true, nil // for the update (whose condition decides)
		case ownClaim(old, req):
			return old, false, nil
		}
		// The update's condition would fail on this run as it stands:
		// lost now, without the request. (A run that changed since can
		// only have been claimed by someone else, or moved on.)
		return Run{}, false, &ClaimLostError{Input: key, Status: old.Status, Attempt: old.Attempt, Until: old.LeaseExpiry()}
	}
	if err != nil {
		return Run{}, false, fault.Retryable(fmt.Errorf("claim %s: %w", key, err))
	}
	return run, false, nil
}

// claimable reports whether a claim's update condition holds on old, an
// existing run, for req (not a take-up): its lease expired, it FAILED, or
// the claim is forced and it SUCCEEDED under another force id. It mirrors
// the condition in Claim, which stays the authority: create uses it only
// to skip an update that is bound to fail.
func claimable(old Run, req ClaimRequest, now time.Time) bool {
	switch {
	case old.Status.Live():
		return old.LeaseUntil < now.Unix()
	case old.Status == Failed:
		return true
	case old.Status == Succeeded:
		return req.Force && old.ForceID != req.ForceID
	}
	return false
}

// ownClaim reports whether old, the run a claim found, is the claim of
// the same message: an earlier delivery of it (a crash between claim and
// hand-off), or the SDK's retry of a write that took effect.
func ownClaim(old Run, req ClaimRequest) bool {
	return old.ClaimMessage == req.MessageID && req.MessageID != "" && old.Status == Claimed
}

// claimed is the run the claim's update makes of prev (the zero Run: none)
// as attempt: what the update sets, from values; what it removes, zero;
// and what it leaves — the force id of an unforced claim, the schema, the
// take-up count — as prev had it. It must follow the update expression
// in claim (the store's tests compare it with the item written).
func claimed(prev Run, req ClaimRequest, key string, attempt int, values map[string]types.AttributeValue) Run {
	s := func(k string) string { return values[k].(*types.AttributeValueMemberS).Value }
	lease, _ := strconv.ParseInt(values[":lease"].(*types.AttributeValueMemberN).Value, 10, 64)
	run := Run{
		Input: key, Source: req.Source, Window: req.Window, Status: Claimed, Attempt: attempt,
		RunID: s(":rid"), Trigger: req.Trigger, Owner: s(":owner"), ClaimMessage: req.MessageID,
		LeaseUntil: lease, ClaimedAt: s(":at"), ForceID: prev.ForceID,
		Schema: prev.Schema, SchemaChange: prev.SchemaChange,
		TakeUps: prev.TakeUps, TakenUpAt: prev.TakenUpAt, TakeUpAttempt: prev.TakeUpAttempt,
		Rev: prev.Rev + 1,
	}
	if req.Force {
		run.ForceID = req.ForceID
	}
	return run
}

func newRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}
