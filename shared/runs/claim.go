package runs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
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
// ErrClaimLost (a *ClaimLostError) when it is not free. The new attempt is
// logged in the history, and an attempt it took over is logged ABANDONED.
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
	values := map[string]types.AttributeValue{
		":claimed":    str(string(Claimed)),
		":running":    str(string(Running)),
		":committing": str(string(Committing)),
		":failed":     str(string(Failed)),
		":now":        num(now.Unix()),
		":zero":       num(0),
		":one":        num(1),
		":rid":        str(newRunID()),
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
		run, _, err := s.claim(ctx, req, key, now, "if_not_exists(attempt, :zero) + :one", cond, setForce, values)
		return run, err
	}
	values[":floor"] = num(int64(req.Floor))
	run, below, err := s.claim(ctx, req, key, now, "attempt + :one", "("+cond+") AND attempt >= :floor", setForce, values)
	if !below {
		return run, err
	}
	values[":above"] = num(int64(req.Floor) + 1)
	run, _, err = s.claim(ctx, req, key, now, ":above", "("+cond+") AND (attribute_not_exists(attempt) OR attempt < :floor)", setForce, values)
	return run, err
}

// claim is one conditional claim write that numbers the attempt by
// attemptExpr. below reports a lost condition that found the run's
// counter below req.Floor (or no run), for the caller to try the variant
// that numbers from the floor.
func (s *Store) claim(ctx context.Context, req ClaimRequest, key string, now time.Time, attemptExpr, cond, setForce string, values map[string]types.AttributeValue) (run Run, below bool, err error) {
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
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		old, derr := decodeRun(ccf.Item)
		if derr != nil {
			return Run{}, false, derr
		}
		if old.ClaimMessage == req.MessageID && req.MessageID != "" && old.Status == Claimed {
			// Our own claim, from an earlier delivery of this message.
			return old, false, s.logAttempt(ctx, old, now)
		}
		lost := &ClaimLostError{Input: key, Status: old.Status, Attempt: old.Attempt, Until: old.LeaseExpiry()}
		return Run{}, old.Attempt < req.Floor, lost
	}
	if err != nil {
		return Run{}, false, fault.Retryable(fmt.Errorf("claim %s: %w", key, err))
	}
	run, err = decodeRun(out.Attributes)
	if err != nil {
		return Run{}, false, err
	}
	return run, false, s.logTakeover(ctx, run, now, classLeaseExpired, "lease expired; taken over by a new claim")
}

func newRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}
