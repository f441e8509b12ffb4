package runs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sluice-data/sluice/shared/awsconf"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/fault"
)

const (
	skRun     = "RUN"
	skAttempt = "ATTEMPT#"
)

// DynamoDB is the part of the DynamoDB client the store uses.
type DynamoDB interface {
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

var _ DynamoDB = (*dynamodb.Client)(nil)

// Store reads and changes runs. It is safe for concurrent use.
type Store struct {
	db  DynamoDB
	cfg Config
	now func() time.Time
}

// Option changes how a Store works.
type Option func(*Store)

// WithClock makes the store read the time from now instead of time.Now:
// leases, stamps and expiries follow it (tests of lease expiry move it).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// New returns a Store over db.
func New(db DynamoDB, cfg Config, opts ...Option) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Store{db: db, cfg: cfg.WithDefaults(), now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// HeartbeatEvery is the configured heartbeat interval.
func (s *Store) HeartbeatEvery() time.Duration { return s.cfg.Heartbeat }

// tryUpdate applies a change conditioned on the run's attempt (cond is
// ANDed with the run's existence). When the condition holds it returns the
// run as changed and applied == true; when it fails, the run as it stands
// (the zero Run when there is none) and applied == false, for the caller
// to judge: a fence, its own retried write, or an outcome.
func (s *Store) tryUpdate(ctx context.Context, op string, r contracts.Run, update, cond string, values map[string]types.AttributeValue, names ...string) (run Run, applied bool, err error) {
	if strings.Contains(cond, ":attempt") {
		values[":attempt"] = num(int64(r.Attempt))
	}
	exprNames := map[string]string{"#st": "status"} // every condition checks the status
	for _, n := range names {
		exprNames["#"+n] = n
	}
	ctx, cancel := context.WithTimeout(ctx, awsconf.CallTimeout)
	defer cancel()
	in := &dynamodb.UpdateItemInput{
		TableName:                           aws.String(s.cfg.Table),
		Key:                                 itemKey(r.Key()),
		UpdateExpression:                    aws.String(update),
		ConditionExpression:                 aws.String("attribute_exists(pk) AND " + cond),
		ExpressionAttributeValues:           values,
		ExpressionAttributeNames:            exprNames,
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	out, err := s.db.UpdateItem(ctx, in)
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		var cur Run
		if len(ccf.Item) > 0 {
			if r, derr := decodeRun(ccf.Item); derr == nil {
				cur = r
			}
		}
		return cur, false, nil
	}
	if err != nil {
		return Run{}, false, fault.Retryable(fmt.Errorf("%s %s attempt %d: %w", op, r.Key(), r.Attempt, err))
	}
	run, err = decodeRun(out.Attributes)
	return run, err == nil, err
}

// update is tryUpdate for a change with no outcome but done or fenced: a
// failed condition is a *FencedError.
func (s *Store) update(ctx context.Context, op string, r contracts.Run, update, cond string, values map[string]types.AttributeValue, names ...string) (Run, error) {
	run, applied, err := s.tryUpdate(ctx, op, r, update, cond, values, names...)
	if err != nil {
		return Run{}, err
	}
	if !applied {
		return Run{}, fenced(op, r, run)
	}
	return run, nil
}

func decodeRun(item map[string]types.AttributeValue) (Run, error) {
	var r Run
	if err := attributevalue.UnmarshalMap(item, &r); err != nil {
		return Run{}, fault.Permanent(fmt.Errorf("decode run record: %w", err))
	}
	return r, nil
}

func itemKey(input string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": str(input), "sk": str(skRun)}
}

func attemptSK(n int) string { return fmt.Sprintf("%s%08d", skAttempt, n) }

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}
