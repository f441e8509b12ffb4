// Package runstest supports tests of the run store and of its users: an
// in-memory store (Store) and the contract suite (TestStore) that every
// store — *runs.Store against DynamoDB Local, and the in-memory one — must
// pass, so that a service test over the in-memory store tests against the
// rules the services meet in production.
package runstest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/runs"
)

// Contract is what the suite covers: the methods of *runs.Store.
type Contract interface {
	Claim(ctx context.Context, req runs.ClaimRequest) (runs.Run, error)
	Start(ctx context.Context, r contracts.Run, fetchMsg string) (runs.Run, error)
	Continue(ctx context.Context, r contracts.Run, fetchMsg string, hop int) (runs.Run, error)
	StartHop(ctx context.Context, r contracts.Run, fetchMsg string, hop int) (runs.Run, error)
	Restart(ctx context.Context, r contracts.Run, fetchMsg, why string) (runs.Run, error)
	Yield(ctx context.Context, r contracts.Run, fetchMsg string) error
	Fetched(ctx context.Context, r contracts.Run, fetchMsg string) error
	Heartbeat(ctx context.Context, r contracts.Run) (time.Time, error)
	Checkpoint(ctx context.Context, r contracts.Run, hop int, state string) error
	CheckpointFor(ctx context.Context, r contracts.Run, hop int, state string, wait time.Duration) error
	BatchWritten(ctx context.Context, r contracts.Run, seq int) (runs.Run, error)
	SetTotals(ctx context.Context, r contracts.Run, batches int, records, bytes int64) (runs.Run, error)
	BeginCommit(ctx context.Context, r contracts.Run) (runs.Run, bool, error)
	RenewCommit(ctx context.Context, r contracts.Run) (runs.Run, error)
	FinishCommit(ctx context.Context, r contracts.Run, objects int) (bool, error)
	SetSchema(ctx context.Context, r contracts.Run, fingerprint, change string) error
	Fail(ctx context.Context, r contracts.Run, class, msg string) error
	FailCommit(ctx context.Context, r contracts.Run, class, msg string) error
	Release(ctx context.Context, input, reason string, force bool) (runs.Run, error)
	Get(ctx context.Context, input string) (runs.Run, error)
	History(ctx context.Context, input string) ([]runs.Run, error)
	List(ctx context.Context) ([]runs.Run, error)
	GetMany(ctx context.Context, inputs []string) (map[string]runs.Run, error)
	LatestSucceeded(ctx context.Context, inputs []string) (runs.Run, bool, error)
	Expired(ctx context.Context, before time.Time, limit int) ([]runs.Run, error)
	TakeUp(ctx context.Context, req runs.TakeUpRequest) (runs.TakeUpOutcome, error)
	HeartbeatEvery() time.Duration
}

var (
	_ Contract = (*runs.Store)(nil)
	_ Contract = (*Store)(nil)
)

// Open returns a new, empty store configured by cfg, reading the time
// from now.
type Open func(t *testing.T, cfg runs.Config, now func() time.Time) Contract

// TestStore runs the contract suite against the stores open returns.
func TestStore(t *testing.T, open Open) {
	for _, tt := range []struct {
		name string
		test func(*testing.T, Open)
	}{
		{"ClaimIsExclusiveUnderConcurrency", testClaimIsExclusiveUnderConcurrency},
		{"ClaimRules", testClaimRules},
		{"ClaimIsNumberedAboveTheFloor", testClaimIsNumberedAboveTheFloor},
		{"StaleAttemptIsFenced", testStaleAttemptIsFenced},
		{"CommitOnlyWhenCompleteAndExactlyOnce", testCommitOnlyWhenCompleteAndExactlyOnce},
		{"StartIsExclusiveAndARestartFencesTheEarlierTry", testStartIsExclusiveAndARestartFencesTheEarlierTry},
		{"ForcedClaimNeedsAnID", testForcedClaimNeedsAnID},
		{"HistoryKeepsEveryAttemptAndOnlyIt", testHistoryKeepsEveryAttemptAndOnlyIt},
		{"HistoryAbandonsTheAttemptATakeOverToTheFloorReplaced", testHistoryAbandonsTheAttemptATakeOverToTheFloorReplaced},
		{"HistoryShowsARunningAttemptAsItStands", testHistoryShowsARunningAttemptAsItStands},
		{"Release", testRelease},
		{"FailLeavesACommitToTheCommitter", testFailLeavesACommitToTheCommitter},
		{"CommittingRunIsResumedNotRedecided", testCommittingRunIsResumedNotRedecided},
		{"AContinuedCommitRenewsItsLease", testAContinuedCommitRenewsItsLease},
		{"ContinuationHops", testContinuationHops},
		{"ADelayedContinuationKeepsTheInput", testADelayedContinuationKeepsTheInput},
		{"TheWriterCountingDuringAWaitKeepsTheInput", testTheWriterCountingDuringAWaitKeepsTheInput},
		{"RestartBeginsTheFetchAgainAsTheNextAttempt", testRestartBeginsTheFetchAgainAsTheNextAttempt},
		{"FailOfAFinishedAttemptSaysWhetherItIsSuperseded", testFailOfAFinishedAttemptSaysWhetherItIsSuperseded},
		{"SchemaIsRecordedOnTheCommitAndItsHistory", testSchemaIsRecordedOnTheCommitAndItsHistory},
		{"ExpiredListsOnlyOpenRunsPastTheirLease", testExpiredListsOnlyOpenRunsPastTheirLease},
		{"TakeUpCountsAndGivesUpAtTheBudget", testTakeUpCountsAndGivesUpAtTheBudget},
		{"TakeUpLeavesACommitOverTheBudget", testTakeUpLeavesACommitOverTheBudget},
		{"TakeUpLeavesQueuedWork", testTakeUpLeavesQueuedWork},
		{"TakeUpGivesUpOnlyAfterTheLastTakeUpHadItsChance", testTakeUpGivesUpOnlyAfterTheLastTakeUpHadItsChance},
		{"ATakeUpNeverClaimedEndsAtTheBudget", testATakeUpNeverClaimedEndsAtTheBudget},
		{"ExpiredPagesPastRunsItCannotTakeUp", testExpiredPagesPastRunsItCannotTakeUp},
		{"ReadsByKey", testReadsByKey},
	} {
		t.Run(tt.name, func(t *testing.T) { tt.test(t, open) })
	}
}

// newStore opens a store with a one-minute lease and a Clock the test
// moves by hand.
func newStore(t *testing.T, open Open) (Contract, *Clock) {
	t.Helper()
	c := &Clock{now: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	return open(t, runs.Config{Lease: time.Minute}, c.Now), c
}

// NewClock returns a Clock that reads at.
func NewClock(at time.Time) *Clock { return &Clock{now: at} }

// Clock is a test clock that moves only when told to; its Now is what a
// store's clock option takes. Safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now is the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

// Add moves the clock on by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func req(msg string) runs.ClaimRequest {
	return runs.ClaimRequest{Source: "orders", Window: "2026-11-01", Trigger: "manual", MessageID: msg}
}
