package runs

import (
	"time"

	"github.com/sluice-data/sluice/shared/contracts"
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
	// Fetched says the attempt's fetch finished: its fetcher sent the
	// Done (see Fetched), and what is left is queued for the writer.
	Fetched bool `dynamodbav:"fetched,omitempty"`
	// Schema is the fingerprint of the schema of the parquet files the
	// commit published (empty for jsonl), and SchemaChange, when the
	// source's files had another schema before, what it changed from (see
	// SetSchema).
	Schema       string `dynamodbav:"schema,omitempty"`
	SchemaChange string `dynamodbav:"schema_change,omitempty"`
	// TakeUps counts the times in a row the sweep has taken the run up
	// again after its lease expired (see TakeUp), TakenUpAt (epoch
	// seconds) when it last did; both go when the run ends.
	TakeUps   int   `dynamodbav:"takeups,omitempty"`
	TakenUpAt int64 `dynamodbav:"taken_up_at,omitempty"`
	// TakeUpAttempt is the attempt the last take-up took up: a claim
	// since (a newer attempt) means that take-up had its chance.
	TakeUpAttempt int `dynamodbav:"takeup_attempt,omitempty"`
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
