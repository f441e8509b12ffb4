package runs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/fault"
)

const (
	skRun       = "RUN"
	skAttempt   = "ATTEMPT#"
	callTimeout = 10 * time.Second
)

// DynamoDB is the part of the DynamoDB client the store uses.
type DynamoDB interface {
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

var _ DynamoDB = (*dynamodb.Client)(nil)

// Store reads and changes runs. It is safe for concurrent use.
type Store struct {
	db  DynamoDB
	cfg Config
	now func() time.Time
}

// New returns a Store over db.
func New(db DynamoDB, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Lease == 0 {
		cfg.Lease = 15 * time.Minute
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = cfg.Lease / 3
	}
	if cfg.Retention == 0 {
		cfg.Retention = 400 * 24 * time.Hour
	}
	if cfg.Owner == "" {
		cfg.Owner = defaultOwner()
	}
	return &Store{db: db, cfg: cfg, now: time.Now}, nil
}

func defaultOwner() string {
	if s := os.Getenv("AWS_LAMBDA_LOG_STREAM_NAME"); s != "" {
		return s
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s:%d", host, os.Getpid())
}

// SetClock replaces the store's clock, for tests of lease expiry.
func (s *Store) SetClock(now func() time.Time) { s.now = now }

// HeartbeatEvery is the configured heartbeat interval.
func (s *Store) HeartbeatEvery() time.Duration { return s.cfg.Heartbeat }

// update applies a change conditioned on the run's attempt; a failed
// condition is a *FencedError carrying the run as it stands.
func (s *Store) update(ctx context.Context, op string, r contracts.Run, update, cond string, values map[string]types.AttributeValue, names ...string) (Run, error) {
	if strings.Contains(cond, ":attempt") {
		values[":attempt"] = num(int64(r.Attempt))
	}
	exprNames := map[string]string{"#st": "status"} // every condition checks the status
	for _, n := range names {
		exprNames["#"+n] = n
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
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
		fe := &FencedError{Op: op, Ref: r}
		if len(ccf.Item) > 0 {
			if cur, derr := decodeRun(ccf.Item); derr == nil {
				fe.Current = &cur
			}
		}
		return Run{}, fe
	}
	if err != nil {
		return Run{}, fault.Retryable(fmt.Errorf("%s %s attempt %d: %w", op, r.Key(), r.Attempt, err))
	}
	return decodeRun(out.Attributes)
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
