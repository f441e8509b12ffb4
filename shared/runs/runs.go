// Package runs keeps the state of every input's current run in DynamoDB, and
// makes the run the single place where "is this input being worked on, by
// whom, and is it done?" is decided — with conditional writes only, so that
// concurrent services can never both believe they own an input.
//
// One item per input (pk = "<source>/<window>", sk = "RUN") holds the
// current run: its status, its attempt number (the fencing token every later
// write is conditioned on), and its lease expiry in epoch seconds
// (lease_until).
//
// A claim succeeds when there is no run, when the current run's lease has
// expired (CLAIMED or RUNNING with lease_until in the past), when the last
// run FAILED, or when a forced trigger reruns a SUCCEEDED input (once per
// force id, so a duplicated forced trigger still runs once). A plain trigger
// never reruns a SUCCEEDED input.
//
// The table's TTL attribute, expires_at, is set only when a run finishes
// (now + retention) and removed while a run is live. TTL therefore removes
// old finished runs and never a live one — an expired lease is made free by
// the claim condition, not by deletion (DynamoDB Local never deletes
// expired items and AWS can take up to 48 hours).
//
// Lifecycle: Claim (CLAIMED) → Start (RUNNING, by exactly one fetch
// message; a redelivery of that message restarts the fetch as a new
// attempt, so the two tries can never mix) → BatchWritten / SetTotals (each
// renews the lease) → Commit (SUCCEEDED, by exactly one party: whoever sees
// every batch written with the total known) or Fail (FAILED).
package runs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/logging"
)

// Status of a run.
type Status string

// Run statuses.
const (
	Claimed   Status = "CLAIMED"
	Running   Status = "RUNNING"
	Succeeded Status = "SUCCEEDED"
	Failed    Status = "FAILED"
)

const (
	skRun       = "RUN"
	callTimeout = 10 * time.Second
)

var (
	// ErrClaimLost means another claim holds the input, or it already
	// succeeded. It is an expected outcome, not a failure.
	ErrClaimLost = errors.New("claim lost")
	// ErrFenced means the run's attempt is no longer the current one, or the
	// run is already finished: the caller must stop and change nothing.
	ErrFenced = errors.New("run fenced: attempt is not current")
	// ErrNotFound means there is no run for the input.
	ErrNotFound = errors.New("run not found")
)

// Run is the stored state of an input's current run.
type Run struct {
	Input           string `dynamodbav:"pk"`
	Source          string `dynamodbav:"source"`
	Window          string `dynamodbav:"window"`
	Status          Status `dynamodbav:"status"`
	Attempt         int    `dynamodbav:"attempt"`
	RunID           string `dynamodbav:"run_id"`
	Trigger         string `dynamodbav:"trigger"`
	ClaimMessage    string `dynamodbav:"claim_msg"`
	LeaseUntil      int64  `dynamodbav:"lease_until,omitempty"`
	ExpiresAt       int64  `dynamodbav:"expires_at,omitempty"` // TTL: set when the run finishes
	FetchMessage    string `dynamodbav:"fetch_msg,omitempty"`
	ForceID         string `dynamodbav:"force_id,omitempty"`
	ClaimedAt       string `dynamodbav:"claimed_at"`
	StartedAt       string `dynamodbav:"started_at,omitempty"`
	FinishedAt      string `dynamodbav:"finished_at,omitempty"`
	BatchesExpected *int   `dynamodbav:"batches_expected,omitempty"`
	Written         []int  `dynamodbav:"written,numberset,omitempty"`
	Records         int64  `dynamodbav:"records"`
	Bytes           int64  `dynamodbav:"bytes"`
	Objects         int    `dynamodbav:"objects"`
	ErrorClass      string `dynamodbav:"error_class,omitempty"`
	LastError       string `dynamodbav:"last_error,omitempty"`
}

// Ref is the run a message belongs to.
func (r Run) Ref() contracts.Run {
	return contracts.Run{Source: r.Source, Window: r.Window, RunID: r.RunID, Attempt: r.Attempt}
}

// LeaseExpiry is when the run's lease expires.
func (r Run) LeaseExpiry() time.Time { return time.Unix(r.LeaseUntil, 0).UTC() }

// Complete reports whether exactly the expected batches 0…n-1 have been
// written.
func (r Run) Complete() bool {
	if r.BatchesExpected == nil || len(r.Written) != *r.BatchesExpected {
		return false
	}
	for _, seq := range r.Written {
		if seq < 0 || seq >= *r.BatchesExpected {
			return false
		}
	}
	return true
}

// DynamoDB is the part of the DynamoDB client the store uses.
type DynamoDB interface {
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

var _ DynamoDB = (*dynamodb.Client)(nil)

// Config configures a Store.
type Config struct {
	Table string `env:"SLUICE_RUNS_TABLE,required"`
	// Lease is how long a claim or heartbeat keeps the input (default 15m).
	Lease time.Duration `env:"SLUICE_LEASE" envDefault:"15m"`
	// Retention is how long finished run records are kept (default 400 days).
	Retention time.Duration `env:"SLUICE_RUN_RETENTION" envDefault:"9600h"`
}

// Validate reports every problem with the config at once.
func (c Config) Validate() error {
	var errs []error
	if c.Table == "" {
		errs = append(errs, errors.New("runs: table name is required"))
	}
	if c.Lease < 0 || (c.Lease > 0 && c.Lease < 2*time.Second) {
		errs = append(errs, fmt.Errorf("runs: lease %v is too short (min 2s)", c.Lease))
	}
	return errors.Join(errs...)
}

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
	if cfg.Retention == 0 {
		cfg.Retention = 400 * 24 * time.Hour
	}
	return &Store{db: db, cfg: cfg, now: time.Now}, nil
}

// SetClock replaces the store's clock, for tests of lease expiry.
func (s *Store) SetClock(now func() time.Time) { s.now = now }

// Lease is the configured lease length.
func (s *Store) Lease() time.Duration { return s.cfg.Lease }

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

// ClaimLostError says who holds the input.
type ClaimLostError struct {
	Input   string
	Status  Status
	Attempt int
	Until   time.Time
}

func (e *ClaimLostError) Error() string {
	if e.Status == Succeeded {
		return fmt.Sprintf("claim %s: already SUCCEEDED by attempt %d (use a forced trigger to rerun)", e.Input, e.Attempt)
	}
	return fmt.Sprintf("claim %s: held by attempt %d (%s) until %s", e.Input, e.Attempt, e.Status, e.Until.Format(time.RFC3339))
}

func (e *ClaimLostError) Unwrap() error { return ErrClaimLost }

// Claim takes the input for a new attempt, or returns an error wrapping
// ErrClaimLost (a *ClaimLostError) when it is not free.
func (s *Store) Claim(ctx context.Context, req ClaimRequest) (Run, error) {
	key := contracts.InputKey(req.Source, req.Window)
	now := s.now().UTC()
	cond := "attribute_not_exists(pk) OR (#st IN (:claimed, :running) AND lease_until < :now) OR #st = :failed"
	setForce := ""
	if req.Force {
		if req.ForceID == "" {
			return Run{}, fault.Permanentf("claim %s: a forced claim needs a force id", key)
		}
		cond += " OR (#st = :succeeded AND (attribute_not_exists(force_id) OR force_id <> :fid))"
		setForce = ", force_id = :fid"
	}
	values := map[string]types.AttributeValue{
		":claimed": str(string(Claimed)),
		":running": str(string(Running)),
		":failed":  str(string(Failed)),
		":now":     num(now.Unix()),
		":zero":    num(0),
		":one":     num(1),
		":rid":     str(newRunID()),
		":msg":     str(req.MessageID),
		":lease":   num(now.Add(s.cfg.Lease).Unix()),
		":at":      str(now.Format(time.RFC3339Nano)),
		":trig":    str(req.Trigger),
		":source":  str(req.Source),
		":window":  str(req.Window),
	}
	if req.Force {
		values[":succeeded"] = str(string(Succeeded))
		values[":fid"] = str(req.ForceID)
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.cfg.Table),
		Key:       itemKey(key),
		UpdateExpression: aws.String("SET #st = :claimed, attempt = if_not_exists(attempt, :zero) + :one, run_id = :rid, " +
			"claim_msg = :msg, lease_until = :lease, claimed_at = :at, #trig = :trig, #source = :source, #window = :window, " +
			"#records = :zero, #bytes = :zero, objects = :zero" + setForce + " " +
			"REMOVE started_at, finished_at, batches_expected, written, error_class, last_error, expires_at, fetch_msg"),
		ConditionExpression:                 aws.String(cond),
		ExpressionAttributeNames:            map[string]string{"#st": "status", "#trig": "trigger", "#source": "source", "#window": "window", "#records": "records", "#bytes": "bytes"},
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
			return old, nil // our own claim, from an earlier delivery of this message
		}
		return Run{}, &ClaimLostError{Input: key, Status: old.Status, Attempt: old.Attempt, Until: old.LeaseExpiry()}
	}
	if err != nil {
		return Run{}, fault.Retryable(fmt.Errorf("claim %s: %w", key, err))
	}
	return decodeRun(out.Attributes)
}

// Start moves the claimed run to RUNNING for the fetch message fetchMsg
// and renews its lease. Only one fetch message can start a run. When that
// same message is delivered again while the run is RUNNING (its first try
// crashed or timed out), Start restarts the fetch as the next attempt: the
// batches written so far are forgotten, and every write of the earlier try
// is fenced from then on. The returned run carries the attempt to use.
func (s *Store) Start(ctx context.Context, r contracts.Run, fetchMsg string) (Run, error) {
	now := s.now().UTC()
	values := func() map[string]types.AttributeValue {
		return map[string]types.AttributeValue{
			":running": str(string(Running)), ":claimed": str(string(Claimed)), ":mid": str(fetchMsg),
			":at": str(now.Format(time.RFC3339Nano)), ":lease": num(now.Add(s.cfg.Lease).Unix()),
		}
	}
	run, err := s.update(ctx, "start", r,
		"SET #st = :running, started_at = :at, lease_until = :lease, fetch_msg = :mid",
		"attempt = :attempt AND #st = :claimed", values())
	if !errors.Is(err, ErrFenced) {
		return run, err
	}
	restart := values()
	delete(restart, ":claimed")
	delete(restart, ":at")
	restart[":rid"] = str(r.RunID)
	restart[":one"] = num(1)
	return s.update(ctx, "restart", r,
		"SET attempt = attempt + :one, lease_until = :lease REMOVE written, batches_expected",
		"run_id = :rid AND fetch_msg = :mid AND #st = :running", restart)
}

// Heartbeat renews the run's lease.
func (s *Store) Heartbeat(ctx context.Context, r contracts.Run) error {
	_, err := s.update(ctx, "heartbeat", r, "SET lease_until = :lease", "attempt = :attempt AND #st IN (:claimed, :running)",
		map[string]types.AttributeValue{
			":running": str(string(Running)), ":claimed": str(string(Claimed)),
			":lease": num(s.now().Add(s.cfg.Lease).Unix()),
		})
	return err
}

// BatchWritten records that batch seq of the run is stored. It is
// idempotent: the batch numbers are a set.
func (s *Store) BatchWritten(ctx context.Context, r contracts.Run, seq int) (Run, error) {
	return s.update(ctx, "mark batch written", r, "ADD written :seq SET lease_until = :lease", "attempt = :attempt AND #st = :running",
		map[string]types.AttributeValue{
			":running": str(string(Running)),
			":seq":     &types.AttributeValueMemberNS{Value: []string{strconv.Itoa(seq)}},
			":lease":   num(s.now().Add(s.cfg.Lease).Unix()),
		})
}

// SetTotals records how many batches, records and bytes the run produced.
func (s *Store) SetTotals(ctx context.Context, r contracts.Run, batches int, records, bytes int64) (Run, error) {
	return s.update(ctx, "set totals", r, "SET batches_expected = :n, #records = :records, #bytes = :bytes, lease_until = :lease", "attempt = :attempt AND #st = :running",
		map[string]types.AttributeValue{
			":running": str(string(Running)), ":n": num(int64(batches)), ":records": num(records), ":bytes": num(bytes),
			":lease": num(s.now().Add(s.cfg.Lease).Unix()),
		}, "records", "bytes")
}

// Commit marks the run SUCCEEDED if, and only if, its attempt is current,
// it is RUNNING, and every expected batch is written. It returns false (and
// no error) when the run was already committed by this attempt, so callers
// racing to commit can all call it.
func (s *Store) Commit(ctx context.Context, r contracts.Run, objects int) (bool, error) {
	now := s.now().UTC()
	_, err := s.update(ctx, "commit", r,
		"SET #st = :succeeded, finished_at = :at, objects = :objects, expires_at = :keep REMOVE lease_until",
		"attempt = :attempt AND #st = :running AND (batches_expected = :zero OR size(written) = batches_expected)",
		map[string]types.AttributeValue{
			":running": str(string(Running)), ":succeeded": str(string(Succeeded)), ":zero": num(0),
			":at": str(now.Format(time.RFC3339Nano)), ":objects": num(int64(objects)),
			":keep": num(now.Add(s.cfg.Retention).Unix()),
		})
	if errors.Is(err, ErrFenced) {
		cur, gerr := s.Get(ctx, r.Key())
		if gerr == nil && cur.Attempt == r.Attempt && cur.Status == Succeeded {
			return false, nil
		}
	}
	return err == nil, err
}

// Fail marks the run FAILED with the error, which frees the input for the
// next claim.
func (s *Store) Fail(ctx context.Context, r contracts.Run, class, msg string) error {
	now := s.now().UTC()
	_, err := s.update(ctx, "fail", r,
		"SET #st = :failed, finished_at = :at, error_class = :class, last_error = :msg, expires_at = :keep REMOVE lease_until",
		"attempt = :attempt AND #st IN (:claimed, :running)",
		map[string]types.AttributeValue{
			":failed": str(string(Failed)), ":claimed": str(string(Claimed)), ":running": str(string(Running)),
			":at": str(now.Format(time.RFC3339Nano)), ":class": str(class), ":msg": str(logging.Truncate(msg, 1000)),
			":keep": num(now.Add(s.cfg.Retention).Unix()),
		})
	return err
}

// Get returns the current run of input.
func (s *Store) Get(ctx context.Context, input string) (Run, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.cfg.Table), Key: itemKey(input), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Run{}, fault.Retryable(fmt.Errorf("get run %s: %w", input, err))
	}
	if out.Item == nil {
		return Run{}, fmt.Errorf("get run %s: %w", input, ErrNotFound)
	}
	return decodeRun(out.Item)
}

// List returns every current run (a scan: for operators, not hot paths).
func (s *Store) List(ctx context.Context) ([]Run, error) {
	var (
		runs  []Run
		start map[string]types.AttributeValue
	)
	for {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		out, err := s.db.Scan(cctx, &dynamodb.ScanInput{
			TableName:                 aws.String(s.cfg.Table),
			FilterExpression:          aws.String("sk = :run"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":run": str(skRun)},
			ExclusiveStartKey:         start,
			ConsistentRead:            aws.Bool(true),
		})
		cancel()
		if err != nil {
			return nil, fault.Retryable(fmt.Errorf("list runs: %w", err))
		}
		for _, item := range out.Items {
			r, err := decodeRun(item)
			if err != nil {
				return nil, err
			}
			runs = append(runs, r)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return runs, nil
		}
		start = out.LastEvaluatedKey
	}
}

// update applies a change conditioned on the run's attempt; a failed
// condition is ErrFenced.
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
		TableName:                 aws.String(s.cfg.Table),
		Key:                       itemKey(r.Key()),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("attribute_exists(pk) AND " + cond),
		ExpressionAttributeValues: values,
		ExpressionAttributeNames:  exprNames,
		ReturnValues:              types.ReturnValueAllNew,
	}
	out, err := s.db.UpdateItem(ctx, in)
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return Run{}, fmt.Errorf("%s %s attempt %d: %w", op, r.Key(), r.Attempt, ErrFenced)
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

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func newRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// Error classes recorded on a FAILED run.
const (
	ClassPermanent        = "permanent"
	ClassRetriesExhausted = "retries-exhausted"
)

// GiveUp says whether err, met on the receiveCount-th delivery of a
// message whose queue allows maxReceive, ends the run's attempt — it is
// permanent, or it is the last delivery before the DLQ — and with which
// error class to mark it FAILED.
func GiveUp(err error, receiveCount, maxReceive int) (class string, ok bool) {
	switch {
	case err == nil || errors.Is(err, ErrFenced):
		return "", false
	case fault.IsPermanent(err):
		return ClassPermanent, true
	case receiveCount >= maxReceive:
		return ClassRetriesExhausted, true
	}
	return "", false
}

// FailOnGiveUp marks run FAILED through fail when err ends its attempt (see
// GiveUp), and returns err unchanged for the transport to act on. A run
// that cannot be marked is only logged: its lease still frees the input
// when it expires.
func FailOnGiveUp(ctx context.Context, fail func(ctx context.Context, r contracts.Run, class, msg string) error, run contracts.Run, err error, receiveCount, maxReceive int) error {
	class, ok := GiveUp(err, receiveCount, maxReceive)
	if !ok {
		return err
	}
	if ferr := fail(ctx, run, class, err.Error()); ferr != nil && !errors.Is(ferr, ErrFenced) {
		logging.From(ctx).Warn("could not mark the run FAILED", zap.NamedError("fail_error", ferr))
	}
	return err
}
