// Package runs keeps the state of every input's current run in DynamoDB, and
// makes the run the single place where "is this input being worked on, by
// whom, and is it done?" is decided — with conditional writes only, so that
// concurrent services can never both believe they own an input.
//
// One item per input (pk = "<source>/<window>", sk = "RUN") holds the
// current run: its status, its attempt number (the fencing token every later
// write is conditioned on, monotonic for the life of the input), its owner
// and its lease expiry in epoch seconds (lease_until). One item per attempt
// (sk = "ATTEMPT#<n>") keeps the history that `sluicectl runs <input>` shows;
// those items carry the table's TTL attribute (expires_at), the run item
// never does, so TTL can only ever remove history — an expired lease is
// made free by the claim condition, not by deletion (DynamoDB Local never
// deletes expired items and AWS can take days).
//
// A claim succeeds when there is no run, when the current run's lease has
// expired (CLAIMED, RUNNING or COMMITTING with lease_until in the past), when
// the last run FAILED, or when a forced trigger reruns a SUCCEEDED input
// (once per force id, so a duplicated forced trigger still runs once). A
// plain trigger never reruns a SUCCEEDED input.
//
// Lifecycle of an attempt:
//
//	Claim      → CLAIMED     (dedupe; lease starts)
//	Start      → RUNNING     (fetcher, by exactly one fetch message; a
//	                          redelivery of that message after the lease
//	                          expired restarts the fetch as the next attempt)
//	Heartbeat, BatchWritten, SetTotals renew the lease
//	BeginCommit→ COMMITTING  (writer; exactly one party, when every batch
//	                          0…n-1 is written and n is known)
//	FinishCommit→ SUCCEEDED  (after the output is published)
//	Fail / Release → FAILED  (the input is free at once)
package runs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/logging"
)

// Status of a run.
type Status string

// Run statuses.
const (
	Claimed    Status = "CLAIMED"
	Running    Status = "RUNNING"
	Committing Status = "COMMITTING"
	Succeeded  Status = "SUCCEEDED"
	Failed     Status = "FAILED"
	// Abandoned is only ever the status of an attempt in the history: its
	// lease expired (the worker crashed or stalled) and a newer attempt
	// took the input over.
	Abandoned Status = "ABANDONED"
)

// Live reports whether a run in status s holds (or held) a lease.
func (s Status) Live() bool { return s == Claimed || s == Running || s == Committing }

const (
	skRun       = "RUN"
	skAttempt   = "ATTEMPT#"
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
	// ErrNotLive means the run has finished: there is nothing to release.
	ErrNotLive = errors.New("run is not live")
	// ErrLeaseLive means the run's lease has not expired.
	ErrLeaseLive = errors.New("lease is live")
)

// Run is the stored state of an input's current run (and, in the history,
// of one of its attempts).
type Run struct {
	Input           string `dynamodbav:"pk"`
	Source          string `dynamodbav:"source"`
	Window          string `dynamodbav:"window"`
	Status          Status `dynamodbav:"status"`
	Attempt         int    `dynamodbav:"attempt"`
	RunID           string `dynamodbav:"run_id"`
	Trigger         string `dynamodbav:"trigger"`
	Owner           string `dynamodbav:"owner,omitempty"`
	ClaimMessage    string `dynamodbav:"claim_msg"`
	LeaseUntil      int64  `dynamodbav:"lease_until,omitempty"`
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
	// Checkpoint is the page state a fetch continues from when it is
	// handed over to a new invocation (see Checkpoint), with Hops the
	// number of hand-overs so far.
	Checkpoint string `dynamodbav:"checkpoint,omitempty"`
	Hops       int    `dynamodbav:"hops,omitempty"`
	Taken      int    `dynamodbav:"taken,omitempty"` // the last hop an invocation took up
	// Yielded says the attempt's fetch try ended without finishing (see
	// Yield): its message's redelivery may restart it at once.
	Yielded bool `dynamodbav:"yielded,omitempty"`
	// Rev counts the run's transitions; history items are only ever
	// replaced by a later revision.
	Rev int64 `dynamodbav:"rev"`
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
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

var _ DynamoDB = (*dynamodb.Client)(nil)

// Config configures a Store.
type Config struct {
	Table string `env:"SLUICE_RUNS_TABLE,required"`
	// Lease is how long a claim or heartbeat keeps the input (default 15m).
	// A crashed worker's input is free again at most one lease after its
	// last heartbeat.
	Lease time.Duration `env:"SLUICE_LEASE" envDefault:"15m"`
	// Heartbeat is how often a working fetcher renews its lease; it must be
	// under half the lease, so that one lost heartbeat never loses the
	// lease (default: a third of the lease).
	Heartbeat time.Duration `env:"SLUICE_HEARTBEAT"`
	// Retention is how long attempt history items are kept (default 400
	// days). The run item itself is kept for good: it holds the input's
	// attempt counter, the fencing token.
	Retention time.Duration `env:"SLUICE_RUN_RETENTION" envDefault:"9600h"`
	// Owner names this worker in run records (default: the Lambda log
	// stream, or host:pid).
	Owner string `env:"SLUICE_OWNER"`
}

// Validate reports every problem with the config at once.
func (c Config) Validate() error {
	var errs []error
	if c.Table == "" {
		errs = append(errs, errors.New("SLUICE_RUNS_TABLE: table name is required"))
	}
	if c.Lease < 0 || (c.Lease > 0 && c.Lease < 2*time.Second) {
		errs = append(errs, fmt.Errorf("SLUICE_LEASE: %v is too short (min 2s)", c.Lease))
	}
	lease := c.Lease
	if lease == 0 {
		lease = 15 * time.Minute
	}
	if c.Heartbeat < 0 || (c.Heartbeat > 0 && c.Heartbeat >= lease/2) {
		errs = append(errs, fmt.Errorf("SLUICE_HEARTBEAT: %v must be positive and under half the lease (%v)", c.Heartbeat, lease))
	}
	if c.Retention < 0 {
		errs = append(errs, fmt.Errorf("SLUICE_RUN_RETENTION: %v must not be negative", c.Retention))
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
		return fmt.Sprintf("claim %s: already SUCCEEDED by attempt %d; a plain trigger does not rerun it (use a forced trigger)", e.Input, e.Attempt)
	}
	return fmt.Sprintf("claim %s: held by attempt %d (%s) until %s", e.Input, e.Attempt, e.Status, e.Until.Format(time.RFC3339))
}

func (e *ClaimLostError) Unwrap() error { return ErrClaimLost }

// FencedError is ErrFenced with the run as it stands, when the store read
// it back: the caller may have work to resume (a COMMITTING run of its own
// attempt) or only to drop.
type FencedError struct {
	Op      string
	Ref     contracts.Run
	Current *Run // nil when the run does not exist
}

func (e *FencedError) Error() string {
	cur := "no run"
	if e.Current != nil {
		cur = fmt.Sprintf("current attempt %d is %s", e.Current.Attempt, e.Current.Status)
	}
	return fmt.Sprintf("%s %s attempt %d: %v (%s)", e.Op, e.Ref.Key(), e.Ref.Attempt, ErrFenced, cur)
}

func (e *FencedError) Unwrap() error { return ErrFenced }

// CurrentOf returns the run a fenced error read back, if any.
func CurrentOf(err error) (Run, bool) {
	var fe *FencedError
	if errors.As(err, &fe) && fe.Current != nil {
		return *fe.Current, true
	}
	return Run{}, false
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
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
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
	return run, s.logTakeover(ctx, run, now, "lease expired; taken over by a new claim")
}

// Start moves the claimed run to RUNNING for the fetch message fetchMsg
// and renews its lease. Only one fetch message can start a run.
//
// When that same message is delivered again while the run is RUNNING (its
// first try crashed, stalled or timed out), Start restarts the fetch as
// the next attempt — but only once the earlier try's lease has expired: a
// try that is alive keeps heartbeating, and the redelivery gets a
// retryable error that asks to come back when the lease ends. A restart
// forgets the batches written so far, and every write of the earlier try
// is fenced from then on. The returned run carries the attempt to use.
func (s *Store) Start(ctx context.Context, r contracts.Run, fetchMsg string) (Run, error) {
	return s.StartHop(ctx, r, fetchMsg, 0)
}

// StartHop is Start for invocation hop of a fetch: hop 0 starts the run;
// hop n > 0 continues it from the checkpoint hop n-1 wrote (see
// Checkpoint) — only while the run is RUNNING as the same attempt, has
// handed over exactly n times, and no invocation has taken this
// continuation yet. A continuation message delivered again (its invocation
// died) restarts the fetch from scratch as the next attempt, like any
// fetch message delivered again: batches sent after the checkpoint cannot
// be trusted to come out the same.
func (s *Store) StartHop(ctx context.Context, r contracts.Run, fetchMsg string, hop int) (Run, error) {
	now := s.now().UTC()
	values := map[string]types.AttributeValue{
		":running": str(string(Running)), ":claimed": str(string(Claimed)), ":mid": str(fetchMsg),
		":at": str(now.Format(time.RFC3339Nano)), ":lease": num(now.Add(s.cfg.Lease).Unix()), ":owner": str(s.cfg.Owner),
		":zero": num(0), ":one": num(1),
	}
	var (
		run Run
		err error
	)
	if hop == 0 {
		run, err = s.update(ctx, "start", r,
			"SET #st = :running, started_at = :at, lease_until = :lease, fetch_msg = :mid, #owner = :owner, rev = if_not_exists(rev, :zero) + :one",
			"attempt = :attempt AND #st = :claimed", values, "owner")
		if cur, ok := CurrentOf(err); ok && cur.Attempt == r.Attempt && cur.FetchMessage == fetchMsg &&
			cur.StartedAt == now.Format(time.RFC3339Nano) && cur.Owner == s.cfg.Owner {
			run, err = cur, nil // our own update, applied by a request the SDK retried
		}
		if err == nil {
			s.bestEffort(ctx, s.logAttempt(ctx, run, now))
			return run, nil
		}
	} else {
		delete(values, ":claimed")
		delete(values, ":at")
		delete(values, ":zero")
		delete(values, ":one")
		values[":hop"] = num(int64(hop))
		run, err = s.update(ctx, "continue", r,
			"SET lease_until = :lease, fetch_msg = :mid, #owner = :owner, taken = :hop REMOVE yielded",
			"attempt = :attempt AND #st = :running AND hops = :hop AND (attribute_not_exists(taken) OR taken < :hop)", values, "owner")
		if cur, ok := CurrentOf(err); ok && cur.Attempt == r.Attempt && cur.FetchMessage == fetchMsg && cur.Taken == hop &&
			cur.LeaseUntil == now.Add(s.cfg.Lease).Unix() && cur.Owner == s.cfg.Owner {
			run, err = cur, nil // our own update, applied by a request the SDK retried
		}
		if err == nil {
			return run, nil
		}
	}
	cur, ok := CurrentOf(err)
	if !ok || cur.RunID != r.RunID || cur.FetchMessage != fetchMsg || cur.Status != Running {
		return Run{}, err
	}
	if cur.LeaseUntil >= now.Unix() && !cur.Yielded {
		wait := cur.LeaseExpiry().Sub(now) + time.Second
		return Run{}, fault.RetryAfter(fmt.Errorf("start %s: attempt %d of this fetch still holds the lease until %s (owner %s)",
			r.Key(), cur.Attempt, cur.LeaseExpiry().Format(time.RFC3339), cur.Owner), wait)
	}
	at := now.Format(time.RFC3339Nano)
	restart := map[string]types.AttributeValue{
		":running": str(string(Running)), ":mid": str(fetchMsg), ":rid": str(r.RunID), ":one": num(1),
		":lease": num(now.Add(s.cfg.Lease).Unix()), ":now": num(now.Unix()), ":owner": str(s.cfg.Owner),
		":at": str(at), ":zero": num(0), ":true": &types.AttributeValueMemberBOOL{Value: true},
	}
	run, err = s.update(ctx, "restart", r,
		"SET attempt = attempt + :one, lease_until = :lease, #owner = :owner, started_at = :at, rev = if_not_exists(rev, :zero) + :one REMOVE written, batches_expected, checkpoint, hops, taken, yielded",
		"run_id = :rid AND fetch_msg = :mid AND #st = :running AND (lease_until < :now OR yielded = :true)", restart, "owner")
	if cur, ok := CurrentOf(err); ok && cur.RunID == r.RunID && cur.FetchMessage == fetchMsg && cur.StartedAt == at && cur.Owner == s.cfg.Owner {
		run, err = cur, nil // our own restart, applied by a request the SDK retried
	}
	if err != nil {
		return Run{}, err
	}
	s.bestEffort(ctx, s.logTakeover(ctx, run, now, "lease expired; the fetch restarted as a new attempt"))
	return run, nil
}

// bestEffort logs a history write that failed after the transition it
// records succeeded: the run record is the truth, and failing the caller
// over its history would cost a lease.
func (s *Store) bestEffort(ctx context.Context, err error) {
	if err != nil {
		logging.From(ctx).Warn("could not write the attempt history", zap.Error(err))
	}
}

// Yield records that the attempt's fetch try ended with a retryable error:
// nothing works on it until its message comes back, and then the restart
// need not wait for the lease to run out. The lease itself stays, so no
// other trigger takes the input while the message is retried.
// Only the invocation of fetch message fetchMsg can yield: a try that
// lost its message to a newer hop or a restart changes nothing.
func (s *Store) Yield(ctx context.Context, r contracts.Run, fetchMsg string) error {
	_, err := s.update(ctx, "yield", r, "SET yielded = :true", "attempt = :attempt AND #st = :running AND fetch_msg = :mid",
		map[string]types.AttributeValue{
			":running": str(string(Running)), ":true": &types.AttributeValueMemberBOOL{Value: true}, ":mid": str(fetchMsg),
		})
	return err
}

// Heartbeat renews the run's lease and returns its new expiry.
func (s *Store) Heartbeat(ctx context.Context, r contracts.Run) (time.Time, error) {
	until := s.now().Add(s.cfg.Lease)
	_, err := s.update(ctx, "heartbeat", r, "SET lease_until = :lease", "attempt = :attempt AND #st IN (:claimed, :running)",
		map[string]types.AttributeValue{
			":running": str(string(Running)), ":claimed": str(string(Claimed)),
			":lease": num(until.Unix()),
		})
	return time.Unix(until.Unix(), 0), err
}

// Checkpoint records where a fetch stopped to hand over to a new
// invocation (hop hops so far, state the page state to resume from) and
// renews the lease. The next invocation calls StartHop with hop+1.
func (s *Store) Checkpoint(ctx context.Context, r contracts.Run, hop int, state string) error {
	_, err := s.update(ctx, "checkpoint", r, "SET checkpoint = :cp, hops = :next, lease_until = :lease",
		"attempt = :attempt AND #st = :running AND (attribute_not_exists(hops) OR hops = :hop)",
		map[string]types.AttributeValue{
			":running": str(string(Running)), ":cp": str(state), ":hop": num(int64(hop)), ":next": num(int64(hop + 1)),
			":lease": num(s.now().Add(s.cfg.Lease).Unix()),
		})
	if cur, ok := CurrentOf(err); ok && cur.Attempt == r.Attempt && cur.Status == Running && cur.Hops == hop+1 && cur.Checkpoint == state {
		return nil // our own checkpoint, applied by a request the SDK retried
	}
	return err
}

// BatchWritten records that batch seq of the run is stored and renews the
// lease. It is idempotent: the batch numbers are a set.
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

// BeginCommit moves the run to COMMITTING if, and only if, its attempt is
// current, it is RUNNING, and every expected batch is written: the one
// decision that the attempt's output is the input's output. won is true
// for the single caller that made the move; a caller that finds the run
// already COMMITTING by the same attempt gets the run and won == false,
// and may help finish the commit (publishing is idempotent).
func (s *Store) BeginCommit(ctx context.Context, r contracts.Run) (run Run, won bool, err error) {
	now := s.now().UTC()
	run, err = s.update(ctx, "begin commit", r,
		"SET #st = :committing, lease_until = :lease, rev = if_not_exists(rev, :zero) + :one",
		"attempt = :attempt AND #st = :running AND (batches_expected = :zero OR size(written) = batches_expected)",
		map[string]types.AttributeValue{
			":running": str(string(Running)), ":committing": str(string(Committing)), ":zero": num(0), ":one": num(1),
			":lease": num(now.Add(s.cfg.Lease).Unix()),
		})
	if err == nil {
		return run, true, nil
	}
	if cur, ok := CurrentOf(err); ok && cur.Attempt == r.Attempt && cur.Status == Committing {
		return cur, false, nil
	}
	return Run{}, false, err
}

// FinishCommit marks a COMMITTING run SUCCEEDED once its output is
// published. Finishing a run this attempt already finished is not an
// error.
func (s *Store) FinishCommit(ctx context.Context, r contracts.Run, objects int) error {
	now := s.now().UTC()
	run, err := s.update(ctx, "finish commit", r,
		"SET #st = :succeeded, finished_at = :at, objects = :objects, rev = if_not_exists(rev, :zero) + :one REMOVE lease_until, checkpoint",
		"attempt = :attempt AND #st = :committing",
		map[string]types.AttributeValue{
			":committing": str(string(Committing)), ":succeeded": str(string(Succeeded)), ":one": num(1), ":zero": num(0),
			":at": str(now.Format(time.RFC3339Nano)), ":objects": num(int64(objects)),
		})
	if cur, ok := CurrentOf(err); ok && cur.Attempt == r.Attempt && cur.Status == Succeeded {
		return nil
	}
	if err != nil {
		return err
	}
	s.bestEffort(ctx, s.logAttempt(ctx, run, now))
	return nil
}

// Fail marks the run FAILED with the error, which frees the input for the
// next claim.
func (s *Store) Fail(ctx context.Context, r contracts.Run, class, msg string) error {
	now := s.now().UTC()
	run, err := s.update(ctx, "fail", r,
		"SET #st = :failed, finished_at = :at, error_class = :class, last_error = :msg, rev = if_not_exists(rev, :zero) + :one REMOVE lease_until, checkpoint",
		"attempt = :attempt AND #st IN (:claimed, :running, :committing)",
		map[string]types.AttributeValue{
			":failed": str(string(Failed)), ":claimed": str(string(Claimed)), ":running": str(string(Running)),
			":committing": str(string(Committing)), ":one": num(1), ":zero": num(0),
			":at": str(now.Format(time.RFC3339Nano)), ":class": str(class), ":msg": str(logging.Truncate(msg, 1000)),
		})
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
// it. It refuses while the lease is live unless force is set, and returns
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
	if !force && cur.LeaseUntil >= now.Unix() {
		return cur, fmt.Errorf("release %s: attempt %d (%s, owner %s) holds the lease until %s; use --force to end it anyway: %w",
			input, cur.Attempt, cur.Status, cur.Owner, cur.LeaseExpiry().Format(time.RFC3339), ErrLeaseLive)
	}
	err = s.Fail(ctx, cur.Ref(), ClassReleased, reason)
	if errors.Is(err, ErrFenced) {
		return cur, fmt.Errorf("release %s: the run changed while releasing it; look again: %w", input, err)
	}
	if err != nil {
		return cur, err
	}
	return s.Get(ctx, input)
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

// History returns the attempts of input, oldest first.
func (s *Store) History(ctx context.Context, input string) ([]Run, error) {
	pages := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:              aws.String(s.cfg.Table),
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :prefix)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(input), ":prefix": str(skAttempt),
		},
		ConsistentRead: aws.Bool(true),
	})
	return collect(ctx, "history of "+input, pages.HasMorePages, func(ctx context.Context) ([]map[string]types.AttributeValue, error) {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		return out.Items, nil
	})
}

// List returns every current run (a scan: for operators, not hot paths).
func (s *Store) List(ctx context.Context) ([]Run, error) {
	pages := dynamodb.NewScanPaginator(s.db, &dynamodb.ScanInput{
		TableName:                 aws.String(s.cfg.Table),
		FilterExpression:          aws.String("sk = :run"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":run": str(skRun)},
		ConsistentRead:            aws.Bool(true),
	})
	return collect(ctx, "list runs", pages.HasMorePages, func(ctx context.Context) ([]map[string]types.AttributeValue, error) {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		return out.Items, nil
	})
}

// collect decodes the runs of every page, each page read under its own
// deadline.
func collect(ctx context.Context, op string, more func() bool, next func(context.Context) ([]map[string]types.AttributeValue, error)) ([]Run, error) {
	var out []Run
	for more() {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		items, err := next(cctx)
		cancel()
		if err != nil {
			return nil, fault.Retryable(fmt.Errorf("%s: %w", op, err))
		}
		for _, item := range items {
			r, err := decodeRun(item)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// logTakeover logs run's new attempt in the history and, when it took the
// input over from an earlier attempt that never finished, that attempt as
// ABANDONED.
func (s *Store) logTakeover(ctx context.Context, run Run, now time.Time, why string) error {
	if run.Attempt > 1 {
		if err := s.abandon(ctx, run.Input, run.Attempt-1, now, why); err != nil {
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
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
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

// abandon marks attempt n of input ABANDONED in the history, if it is
// logged there as live.
func (s *Store) abandon(ctx context.Context, input string, n int, now time.Time, why string) error {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	_, err := s.db.UpdateItem(cctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.cfg.Table),
		Key:                      map[string]types.AttributeValue{"pk": str(input), "sk": str(attemptSK(n))},
		UpdateExpression:         aws.String("SET #st = :abandoned, finished_at = :at, error_class = :class, last_error = :why"),
		ConditionExpression:      aws.String("#st IN (:claimed, :running, :committing)"),
		ExpressionAttributeNames: map[string]string{"#st": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":abandoned": str(string(Abandoned)), ":at": str(now.Format(time.RFC3339Nano)),
			":class": str("lease-expired"), ":why": str(why),
			":claimed": str(string(Claimed)), ":running": str(string(Running)), ":committing": str(string(Committing)),
		},
	})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fault.Retryable(fmt.Errorf("log attempt %d of %s abandoned: %w", n, input, err))
	}
	return nil
}

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
