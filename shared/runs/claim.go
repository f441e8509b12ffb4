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
}

// Claim takes the input for a new attempt, or returns an error wrapping
// ErrClaimLost (a *ClaimLostError) when it is not free. The new attempt is
// logged in the history, and an attempt it took over is logged ABANDONED.
func (s *Store) Claim(ctx context.Context, req ClaimRequest) (Run, error) {
	key := contracts.InputKey(req.Source, req.Window)
	now := s.now().UTC()
	cond := "attribute_not_exists(pk) OR (#st IN (:claimed, :running, :committing) AND lease_until < :now) OR #st = :failed"
	setForce := ""
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
	}
	if req.Force {
		values[":succeeded"] = str(string(Succeeded))
		values[":fid"] = str(req.ForceID)
	}
	cctx, cancel := context.WithTimeout(ctx, awsconf.CallTimeout)
	defer cancel()
	out, err := s.db.UpdateItem(cctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.cfg.Table),
		Key:       itemKey(key),
		UpdateExpression: aws.String("SET #st = :claimed, attempt = if_not_exists(attempt, :zero) + :one, run_id = :rid, " +
			"claim_msg = :msg, lease_until = :lease, claimed_at = :at, #trig = :trig, #source = :source, #window = :window, " +
			"#owner = :owner, #records = :zero, #bytes = :zero, objects = :zero, rev = if_not_exists(rev, :zero) + :one" + setForce + " " +
			"REMOVE started_at, finished_at, batches_expected, written, error_class, last_error, expires_at, fetch_msg, checkpoint, hops, taken, yielded"),
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
			return Run{}, derr
		}
		if old.ClaimMessage == req.MessageID && req.MessageID != "" && old.Status == Claimed {
			// Our own claim, from an earlier delivery of this message.
			return old, s.logAttempt(ctx, old, now)
		}
		return Run{}, &ClaimLostError{Input: key, Status: old.Status, Attempt: old.Attempt, Until: old.LeaseExpiry()}
	}
	if err != nil {
		return Run{}, fault.Retryable(fmt.Errorf("claim %s: %w", key, err))
	}
	run, err := decodeRun(out.Attributes)
	if err != nil {
		return Run{}, err
	}
	return run, s.logTakeover(ctx, run, now, classLeaseExpired, "lease expired; taken over by a new claim")
}

func newRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}
