package runs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/awsconf"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/logging"
)

// bestEffort logs a history write that failed after the transition it
// records succeeded: the run record is the truth, and failing the caller
// over its history would cost a lease.
func (s *Store) bestEffort(ctx context.Context, err error) {
	if err != nil {
		logging.From(ctx).Warn("could not write the attempt history", zap.Error(err))
	}
}

// The error classes of an ABANDONED attempt in the history.
const (
	classLeaseExpired = "lease-expired" // its worker crashed or stalled
	classRestarted    = "restarted"     // its fetch began again (see Restart)
)

// logTakeover logs run's new attempt in the history and, when it took the
// input over from an earlier attempt that never finished, that attempt as
// ABANDONED with class and why.
func (s *Store) logTakeover(ctx context.Context, run Run, now time.Time, class, why string) error {
	if run.Attempt > 1 {
		if err := s.abandon(ctx, run.Input, run.Attempt-1, now, class, why); err != nil {
			return err
		}
	}
	return s.logAttempt(ctx, run, now)
}

// logAttempt writes run as its attempt's history item, unless a later
// revision of it is there already.
func (s *Store) logAttempt(ctx context.Context, run Run, now time.Time) error {
	item, err := attributevalue.MarshalMap(run)
	if err != nil {
		return fault.Permanent(fmt.Errorf("encode attempt %d of %s: %w", run.Attempt, run.Input, err))
	}
	item["sk"] = str(attemptSK(run.Attempt))
	item["expires_at"] = num(now.Add(s.cfg.Retention).Unix())
	cctx, cancel := context.WithTimeout(ctx, awsconf.CallTimeout)
	defer cancel()
	_, err = s.db.PutItem(cctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.cfg.Table),
		Item:                      item,
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR rev <= :rev"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":rev": num(run.Rev)},
	})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fault.Retryable(fmt.Errorf("log attempt %d of %s: %w", run.Attempt, run.Input, err))
	}
	return nil
}

// logAbandoned writes prev — the run item of a live attempt as it stood
// when a claim took the input over — as that attempt's history item,
// ABANDONED with class and why, at rev (the revision of the take-over, so
// that no late write of the attempt's own history replaces it).
func (s *Store) logAbandoned(ctx context.Context, prev Run, rev int64, now time.Time, class, why string) error {
	prev.Status, prev.FinishedAt, prev.ErrorClass, prev.LastError, prev.Rev = Abandoned, now.Format(time.RFC3339Nano), class, why, rev
	return s.logAttempt(ctx, prev, now)
}

// abandon marks attempt n of input ABANDONED in the history, if it is
// logged there as live.
func (s *Store) abandon(ctx context.Context, input string, n int, now time.Time, class, why string) error {
	cctx, cancel := context.WithTimeout(ctx, awsconf.CallTimeout)
	defer cancel()
	_, err := s.db.UpdateItem(cctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.cfg.Table),
		Key:                      map[string]types.AttributeValue{"pk": str(input), "sk": str(attemptSK(n))},
		UpdateExpression:         aws.String("SET #st = :abandoned, finished_at = :at, error_class = :class, last_error = :why"),
		ConditionExpression:      aws.String("#st IN (:claimed, :running, :committing)"),
		ExpressionAttributeNames: map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":abandoned": str(string(Abandoned)), ":at": str(now.Format(time.RFC3339Nano)),
			":class": str(class), ":why": str(why),
			":claimed": str(string(Claimed)), ":running": str(string(Running)), ":committing": str(string(Committing)),
		},
	})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fault.Retryable(fmt.Errorf("log attempt %d of %s abandoned: %w", n, input, err))
	}
	return nil
}
