package commit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"

	"github.com/sluice-data/sluice/services/writer/commit"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/devstack/devstacktest"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/runs/runstest"
	"github.com/sluice-data/sluice/shared/sink"
)

// The model test drives the real run store (DynamoDB Local) and the real
// sink (versitygw) through random interleavings of three workers that
// claim, start, heartbeat, write batches, report totals, commit, crash
// (forget everything), stall (keep acting on an attempt they lost), get a
// forced rerun, while the clock jumps past leases — and checks after every
// step what a reader could see:
//
//   - the partition shows nothing, or exactly the parts 0…n-1 of one
//     attempt, each holding that attempt's records for that batch (no mix,
//     no duplicate, nothing partial);
//   - the published attempt never goes back;
//   - when the run is SUCCEEDED, the partition shows exactly its attempt;
//   - each attempt's commit is decided at most once;
//   - attempt numbers only grow.
//
// Three operator and delivery events join the chaos:
//
//   - the run item is lost (an operator deletes a "stuck" item, a table is
//     replaced; the workers on it are gone): claims read the bucket's
//     highest attempt as their floor, as dedupe does, so no attempt number
//     is reused and no commit finds the pointer above it;
//   - `release --force` at any moment, also during a commit: a released
//     attempt is never published;
//   - the clean-up after a publish fails, and the message's last receive
//     gives up on the commit (as the writer does): a run whose attempt the
//     partition shows is never FAILED by it.
//
// At the end the chaos stops, and one worker must bring the input to
// SUCCEEDED within one lease: nothing stays stuck.

const (
	modelLease   = 30 * time.Second
	modelWorkers = 3
)

// worker is what one fetcher+writer pair knows about the attempt it works
// on; it may be stale.
type worker struct {
	run      *runs.Run // the attempt it believes it holds
	fetchMsg string
	batches  int // how many batches its fetch produces
	written  int // how many it has written so far
	cfg      int // the config its hop fetches under (modelConfigs)
	hop      int // the hop it fetches as
	hopFrom  int // the batches written when its hop began
	stops    int // the stops in a row without progress, as its checkpoint says
}

// stoppable says whether w's fetch is walking, so that its source can
// stop it.
func (w *worker) stoppable() bool {
	return w.run != nil && w.run.Status == runs.Running && w.written < w.batches
}

type model struct {
	t         *testing.T
	ctx       context.Context
	rng       *rand.Rand
	clock     *runstest.Clock
	store     *runs.Store
	sink      *sink.Sink
	s3        *s3.Client
	committer *commit.Committer
	part      sink.Partition
	ref       contracts.Run // source + window
	workers   [modelWorkers]worker
	msgs      int
	published int             // highest published attempt seen
	wins      map[int]int     // commit decisions per attempt
	batchesOf map[int]int     // batch count per attempt, as its fetch decided
	log       []string        // the steps, for the failure message
	publishes int             // publishes begun
	resumed   int             // stalled publishes resumed
	stalled   []sink.Manifest // publishes of committers that stalled before their PUT
	db        *dynamodb.Client
	table     string
	released  map[int]bool // attempts ended by a release
	lateAfter map[int]bool // attempts a stalled committer resumed to publish
	losses    int          // run items lost
	releases  int          // releases refused during a commit, and done
	refused   int
	giveUps   map[commit.Ending]int // commits given up on, by ending
	highest   int                   // the highest attempt ever claimed

	cfg           int                     // the config deployed now
	cfgOf         map[int]int             // the config each attempt's fetch began under
	conts         []continuation          // continuations in the fetch queue
	checkpoints   map[int]modelCheckpoint // the last checkpoint of each attempt
	held          map[int]int64           // lease_until a stop's checkpoint holds, per attempt
	noProgress    map[int]int             // stops in a row without progress, as the model counts them
	configChanges int
	stops         int // stops checkpointed
	budgetFails   int // fetches failed past SLUICE_MAX_STOPS
	restarts      int // continuations restarted under a changed config
	waitsOn       int // continuations that waited on
	continued     int // continuations that went on from their checkpoint
	lastReceives  int // messages given up on at their last receive
	deleted       int
	parked        int
}

// stallingObjects is the real sink, except that some publishes stall: the
// committer freezes just before its PUT (the model resumes it later, when
// the world may have moved on) — the worst moment for a pause; and some
// clean-ups after a publish fail (S3 throttling).
type stallingObjects struct {
	*sink.Sink
	m *model
}

var (
	errStalled = errors.New("committer stalled before publishing")
	errCleanup = fault.Retryable(errors.New("clean-up throttled"))
)

func (o stallingObjects) RemoveAttemptsBelow(ctx context.Context, p sink.Partition, below int, keep ...int) (int, error) {
	if o.m.rng.IntN(4) == 0 {
		return 0, errCleanup
	}
	return o.Sink.RemoveAttemptsBelow(ctx, p, below, keep...)
}

func (o stallingObjects) Publish(ctx context.Context, p sink.Partition, man sink.Manifest) (sink.Publication, error) {
	o.m.publishes++
	if o.m.rng.IntN(3) == 0 {
		o.m.stalled = append(o.m.stalled, man)
		return sink.Publication{}, errStalled
	}
	return o.Sink.Publish(ctx, p, man)
}

func TestModelOfRunsAndCommits(t *testing.T) {
	st := devstacktest.Start(t, devstack.Options{})
	seeds := 8
	steps := 200
	if testing.Short() {
		seeds, steps = 2, 80
	}
	var totalPublishes, totalResumed, totalLosses, totalRefused, totalReleases, totalGiveUps, totalFinished int
	var fetches fetchTotals
	for seed := range seeds {
		t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) {
			c := runstest.NewClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
			store, err := runs.New(st.DynamoDB, runs.Config{Table: st.Resources.Table, Lease: modelLease}, runs.WithClock(c.Now))
			if err != nil {
				t.Fatal(err)
			}
			sk := sink.New(st.S3, st.Resources.Bucket, fmt.Sprintf("model-%d", seed))
			window := fmt.Sprintf("2026-10-%02d", seed+1)
			m := &model{
				t: t, ctx: context.Background(), rng: rand.New(rand.NewPCG(uint64(seed), 42)), clock: c,
				store: store, sink: sk, s3: st.S3,
				part: sink.Partition{Source: "orders", Hive: "dt=" + window},
				ref:  contracts.Run{Source: "orders", Window: window},
				wins: map[int]int{}, batchesOf: map[int]int{},
				db: st.DynamoDB, table: st.Resources.Table, released: map[int]bool{}, lateAfter: map[int]bool{}, giveUps: map[commit.Ending]int{},
				cfgOf: map[int]int{}, checkpoints: map[int]modelCheckpoint{}, held: map[int]int64{}, noProgress: map[int]int{},
			}
			m.committer = commit.New(store, stallingObjects{Sink: sk, m: m}, commit.WithClock(c.Now))
			for i := range steps {
				m.step(i)
				m.check(i%15 == 14)
			}
			published := m.published
			m.finish()
			m.check(true)
			t.Logf("%d publishes (%d stalled) during the chaos; the partition reached attempt %d before the final run; "+
				"%d run items lost, %d releases (%d refused during a commit), commits given up on: %d FAILED, %d SUCCEEDED",
				m.publishes, len(m.stalled), published, m.losses, m.releases, m.refused, m.giveUps[commit.EndedFailed], m.giveUps[commit.EndedSucceeded])
			totalPublishes += m.publishes
			totalResumed += m.resumed
			totalLosses += m.losses
			totalRefused += m.refused
			totalReleases += m.releases
			totalGiveUps += m.giveUps[commit.EndedFailed] + m.giveUps[commit.EndedSucceeded]
			totalFinished += m.giveUps[commit.EndedSucceeded]
			t.Logf("%d config changes, %d stops (%d past the budget), continuations: %d went on, %d waited on, %d restarted under a new config; "+
				"%d messages given up on: %d deleted, %d parked", m.configChanges, m.stops, m.budgetFails, m.continued, m.waitsOn, m.restarts,
				m.deleted+m.parked, m.deleted, m.parked)
			fetches.add(m)
		})
	}
	// The model is only worth something if the chaos reaches the commit,
	// and stalled committers come back late.
	if totalPublishes < 3*seeds || totalResumed == 0 {
		t.Fatalf("%d publishes, %d late resumes over %d seeds: the model exercises too little", totalPublishes, totalResumed, seeds)
	}
	if totalLosses == 0 || totalReleases == 0 || totalRefused == 0 || totalGiveUps == 0 || totalFinished == 0 {
		t.Fatalf("%d lost run items, %d releases (%d refused during a commit), %d give-ups of a commit (%d finished) over %d seeds: the model exercises too little",
			totalLosses, totalReleases, totalRefused, totalGiveUps, totalFinished, seeds)
	}
	if !fetches.enough() {
		t.Fatalf("over %d seeds: %+v: the model exercises too little", seeds, fetches)
	}
	t.Logf("over %d seeds: %+v", seeds, fetches)
	t.Logf("over %d seeds: %d publishes, %d late resumes, %d lost run items, %d releases (%d refused during a commit), %d commits given up on (%d finished as published)",
		seeds, totalPublishes, totalResumed, totalLosses, totalReleases, totalRefused, totalGiveUps, totalFinished)
}

// fetchTotals counts the fetch's and the delivery's events over the
// seeds.
type fetchTotals struct {
	ConfigChanges, Stops, BudgetFails, Continued, WaitsOn, Restarts, Deleted, Parked int
}

func (f *fetchTotals) add(m *model) {
	f.ConfigChanges += m.configChanges
	f.Stops += m.stops
	f.BudgetFails += m.budgetFails
	f.Continued += m.continued
	f.WaitsOn += m.waitsOn
	f.Restarts += m.restarts
	f.Deleted += m.deleted
	f.Parked += m.parked
}

// enough says whether every event happened at least once.
func (f fetchTotals) enough() bool {
	return f.ConfigChanges > 0 && f.Stops > 0 && f.BudgetFails > 0 && f.Continued > 0 && f.WaitsOn > 0 && f.Restarts > 0 && f.Deleted > 0 && f.Parked > 0
}

func (m *model) logf(format string, args ...any) {
	m.log = append(m.log, fmt.Sprintf(format, args...))
}

func (m *model) fatalf(format string, args ...any) {
	m.t.Helper()
	tail := m.log[max(0, len(m.log)-25):]
	m.t.Fatalf(format+"\nlast steps:\n  %s", append(args, strings.Join(tail, "\n  "))...)
}

func (m *model) nextMsg() string {
	m.msgs++
	return fmt.Sprintf("msg-%d", m.msgs)
}

// step does one random action of one random worker.
func (m *model) step(i int) {
	// Time passes between any two calls: no two writes share a stamp (the
	// store recognises its own retried write by one).
	m.clock.Add(time.Millisecond)
	w := &m.workers[m.rng.IntN(modelWorkers)]
	wi := indexOf(m, w)
	// The fetch's and the delivery's events: a deploy, a continuation
	// coming, a source stopping a walk (one that got nothing since its
	// last stop is likely to stop again), a last receive failing.
	switch {
	case m.rng.IntN(30) == 0:
		m.changeConfig(i)
		return
	case len(m.conts) > 0 && m.rng.IntN(6) == 0:
		m.deliver(i)
		return
	case w.stoppable() && (m.rng.IntN(14) == 0 || (w.stops > 0 && w.written == w.hopFrom && m.rng.IntN(4) != 0)):
		m.stop(i, wi, w)
		return
	case m.rng.IntN(40) == 0:
		m.lastReceive(i, wi, w)
		return
	}
	switch op := m.rng.IntN(100); {
	case op < 6:
		d := time.Duration(m.rng.IntN(int(modelLease/time.Second)+10)) * time.Second
		m.clock.Add(d)
		m.logf("%d: clock +%v", i, d)
	case op < 9 && len(m.stalled) > 0:
		k := m.rng.IntN(len(m.stalled))
		man := m.stalled[k]
		m.stalled = append(m.stalled[:k], m.stalled[k+1:]...)
		m.resumed++
		// It goes on as Commit would: publish, then clean up below itself.
		pub, err := m.sink.Publish(m.ctx, m.part, man)
		m.lateAfter[man.Attempt] = true
		m.logf("%d: a stalled committer of attempt %d resumes: %+v, %v", i, man.Attempt, pub, err)
		if err != nil {
			m.fatalf("resumed publish: %v", err)
		}
		if pub.Attempt == man.Attempt {
			if _, err := m.sink.RemoveAttemptsBelow(m.ctx, m.part, man.Attempt, pub.Replaced); err != nil {
				m.fatalf("resumed clean-up: %v", err)
			}
		}
	case op < 12:
		*w = worker{}
		m.logf("%d: w%d crashes", i, wi)
	case op < 13 && m.rng.IntN(2) == 0:
		m.loseRunItem(i)
	case op < 15 && m.rng.IntN(2) == 0:
		m.release(i)
	case w.run == nil || op < 15:
		force := op%3 == 0
		req := runs.ClaimRequest{Source: m.ref.Source, Window: m.ref.Window, Trigger: "manual", MessageID: m.nextMsg()}
		if force {
			req.Force, req.ForceID = true, req.MessageID
		}
		req.Floor = m.floor()
		before, _ := m.store.Get(m.ctx, m.ref.Key())
		r, err := m.store.Claim(m.ctx, req)
		m.logf("%d: w%d claims (force %v, floor %d): %v %v", i, wi, force, req.Floor, attemptOf(r), err)
		if err == nil {
			m.tookOver(before)
			m.claimed(r, true)
			*w = worker{run: &r, fetchMsg: m.nextMsg()}
		} else if !errors.Is(err, runs.ErrClaimLost) {
			m.fatalf("claim: %v", err)
		}
	case w.run.Status == runs.Claimed || op < 20:
		// Start, or — for a worker that already started — a redelivery of
		// its fetch message (of its hop), which may restart the fetch as a
		// new attempt.
		r, err := m.store.StartHop(m.ctx, w.run.Ref(), w.fetchMsg, w.hop)
		m.logf("%d: w%d starts %d (hop %d): %v %v", i, wi, w.run.Attempt, w.hop, attemptOf(r), err)
		if err == nil {
			m.claimed(r, r.Attempt != w.run.Attempt)
			m.fetchAs(w, r, w.fetchMsg)
		}
	case op < 28:
		_, err := m.store.Heartbeat(m.ctx, w.run.Ref())
		m.logf("%d: w%d heartbeats %d: %v", i, wi, w.run.Attempt, err)
	case op < 80 && w.written < w.batches:
		seq := w.written
		if m.rng.IntN(4) == 0 && seq > 0 {
			seq = m.rng.IntN(seq) // a redelivered batch
		} else {
			w.written++
		}
		key := m.sink.PartKey(m.part, w.run.Attempt, seq)
		if _, err := m.sink.WritePart(m.ctx, key, batchData(m.t, w.run.Attempt, seq, w.cfg), 2); err != nil {
			m.fatalf("write part: %v", err)
		}
		r, err := m.store.BatchWritten(m.ctx, w.run.Ref(), seq)
		m.logf("%d: w%d writes batch %d of attempt %d: %v", i, wi, seq, w.run.Attempt, err)
		m.maybeCommit(i, wi, r, err)
	default:
		if w.batches == 0 {
			return
		}
		r, err := m.store.SetTotals(m.ctx, w.run.Ref(), w.batches, int64(2*w.batches), 0)
		m.logf("%d: w%d totals %d for attempt %d: %v", i, wi, w.batches, w.run.Attempt, err)
		m.maybeCommit(i, wi, r, err)
	}
}

// maybeCommit does what the writer does after counting a batch or a total.
func (m *model) maybeCommit(i, wi int, r runs.Run, err error) {
	if err != nil || !(r.Complete() || r.Status == runs.Committing) {
		return
	}
	res, err := m.committer.Commit(m.ctx, r, m.part)
	m.logf("%d: w%d commits attempt %d: %+v %v", i, wi, r.Attempt, res, err)
	if err != nil && !errors.Is(err, runs.ErrFenced) && !errors.Is(err, errStalled) && !errors.Is(err, errCleanup) {
		m.fatalf("commit: %v", err)
	}
	if res.Won {
		m.wins[r.Attempt]++
	}
	if errors.Is(err, errStalled) && m.rng.IntN(3) == 0 {
		m.release(i) // an operator sees a commit stuck, and tries to end it
	}
	if err != nil && !errors.Is(err, runs.ErrFenced) && m.rng.IntN(2) == 0 {
		// The message's last receive: the writer gives up on its commit.
		out := m.deliverBatch(i, wi, r.Ref(), &m.part, err)
		m.logf("%d: w%d's message that commits attempt %d is given up on: %v", i, wi, r.Attempt, out)
		m.settledBatch(r.Ref(), out, true)
	}
}

// tookOver checks a claim that took the input over from the run as it
// stood before: never from a stopped fetch whose checkpoint holds the
// lease over its wait.
func (m *model) tookOver(before runs.Run) {
	if until, ok := m.held[before.Attempt]; ok && before.Status == runs.Running && until >= m.clock.Now().Unix() {
		m.fatalf("a claim took the input over from attempt %d at %s, whose stopped fetch holds it until %s",
			before.Attempt, m.clock.Now().Format(time.TimeOnly), time.Unix(until, 0).UTC().Format(time.TimeOnly))
	}
}

// floor is what dedupe reads before it claims: the highest attempt the
// bucket holds for the partition.
func (m *model) floor() int {
	n, err := m.sink.HighestAttempt(m.ctx, m.part)
	if err != nil {
		m.fatalf("highest attempt: %v", err)
	}
	return n
}

// claimed checks that attempt numbers only grow — a new attempt (a claim,
// a restart) above every one before — and records the highest.
func (m *model) claimed(r runs.Run, isNew bool) {
	if r.Attempt < m.highest || (isNew && r.Attempt == m.highest) {
		m.fatalf("attempt %d after attempt %d: an attempt number went back or was reused", r.Attempt, m.highest)
	}
	m.highest = r.Attempt
}

// loseRunItem deletes the run item, as an operator clearing a "stuck"
// input does; the workers on it are gone (a stalled committer is not:
// it may resume).
func (m *model) loseRunItem(i int) {
	_, err := m.db.DeleteItem(m.ctx, &dynamodb.DeleteItemInput{TableName: aws.String(m.table), Key: map[string]ddbtypes.AttributeValue{
		"pk": &ddbtypes.AttributeValueMemberS{Value: m.ref.Key()}, "sk": &ddbtypes.AttributeValueMemberS{Value: "RUN"},
	}})
	if err != nil {
		m.fatalf("delete the run item: %v", err)
	}
	m.workers = [modelWorkers]worker{}
	m.held = map[int]int64{} // no stop holds a run that is gone
	m.losses++
	// From here on attempts must be above what the bucket holds: an
	// attempt that left nothing in it, and whose workers are gone, may
	// have its number taken again (the README's known gap).
	m.highest = m.floor()
	for a := range m.released {
		if a > m.highest {
			delete(m.released, a) // its number may be taken again
		}
	}
	for a := range m.lateAfter {
		if a > m.highest {
			delete(m.lateAfter, a)
		}
	}
	m.logf("%d: the run item is lost; every worker is gone", i)
}

// release is `sluicectl release --force`: refused during a commit,
// otherwise the attempt is FAILED, and must never be published.
func (m *model) release(i int) {
	before, _ := m.store.Get(m.ctx, m.ref.Key())
	r, err := m.store.Release(m.ctx, m.ref.Key(), "operator", true)
	m.logf("%d: release --force (run was %s): %v %v", i, attemptOf(before), attemptOf(r), err)
	switch {
	case errors.Is(err, runs.ErrCommitting):
		m.refused++
	case err == nil:
		m.releases++
		m.released[r.Attempt] = true
	case errors.Is(err, runs.ErrNotLive), errors.Is(err, runs.ErrNotFound):
	default:
		m.fatalf("release: %v", err)
	}
}

// check verifies the invariants; full reads every object the pointer names.
func (m *model) check(full bool) {
	m.t.Helper()
	for a, n := range m.wins {
		if n > 1 {
			m.fatalf("attempt %d's commit was decided %d times", a, n)
		}
	}
	ptr, err := m.sink.Current(m.ctx, m.part)
	if errors.Is(err, sink.ErrNoPointer) {
		if m.published > 0 {
			m.fatalf("the partition was published (attempt %d) and is gone", m.published)
		}
		return
	}
	if err != nil {
		m.fatalf("read pointer: %v", err)
	}
	if ptr.Attempt < m.published {
		m.fatalf("the partition went back from attempt %d to %d", m.published, ptr.Attempt)
	}
	m.published = ptr.Attempt
	if n, ok := m.batchesOf[ptr.Attempt]; !ok || len(ptr.URIs) != n {
		m.fatalf("the partition shows %d parts of attempt %d, whose fetch produced %d", len(ptr.URIs), ptr.Attempt, n)
	}
	for seq, uri := range ptr.URIs {
		if key, _ := m.sink.KeyOf(uri); key != m.sink.PartKey(m.part, ptr.Attempt, seq) {
			m.fatalf("the partition's part %d is %s, not attempt %d's", seq, uri, ptr.Attempt)
		}
		if full {
			got := m.read(uri)
			if want := batchData(m.t, ptr.Attempt, seq, m.cfgOf[ptr.Attempt]); !bytes.Equal(gunzip(m.t, got), gunzip(m.t, want)) {
				m.fatalf("part %d of the published attempt %d holds %q; the attempt's fetch began under config %d", seq, ptr.Attempt, gunzip(m.t, got), m.cfgOf[ptr.Attempt])
			}
		}
	}
	if m.released[ptr.Attempt] {
		m.fatalf("the partition shows attempt %d, which was released", ptr.Attempt)
	}
	r, err := m.store.Get(m.ctx, m.ref.Key())
	if errors.Is(err, runs.ErrNotFound) {
		return // lost
	}
	if err != nil {
		m.fatalf("get run: %v", err)
	}
	if r.Status == runs.Succeeded && ptr.Attempt != r.Attempt {
		m.fatalf("the run SUCCEEDED as attempt %d, the partition shows attempt %d", r.Attempt, ptr.Attempt)
	}
	// A published run is never FAILED — unless a committer of its attempt,
	// stalled before its PUT, published it after (the README's known gap).
	if r.Status == runs.Failed && ptr.Attempt == r.Attempt && !m.lateAfter[r.Attempt] {
		m.fatalf("the run FAILED as attempt %d (%s: %s), which the partition shows", r.Attempt, r.ErrorClass, r.LastError)
	}
}

// finish stops the chaos: whatever state the input is in, one worker must
// bring it to SUCCEEDED one lease after every wait a stopped fetch asked
// for — and within the stop budget: its source stops it SLUICE_MAX_STOPS
// times in a row without a page before the first, and again after each
// page; no claim takes the input over while it waits. The continuations
// still in the queue come last, and change nothing.
func (m *model) finish() {
	wait := modelLease + time.Second
	for _, until := range m.held {
		wait = max(wait, time.Unix(until, 0).Sub(m.clock.Now())+time.Second)
	}
	m.clock.Add(wait)
	r, err := m.store.Get(m.ctx, m.ref.Key())
	if errors.Is(err, runs.ErrNotFound) {
		r = runs.Run{}
	} else if err != nil {
		m.fatalf("get: %v", err)
	}
	msg := m.nextMsg()
	req := runs.ClaimRequest{Source: m.ref.Source, Window: m.ref.Window, Trigger: "manual", MessageID: msg, Floor: m.floor()}
	if r.Status == runs.Succeeded {
		req.Force, req.ForceID = true, msg
	}
	claimed, err := m.store.Claim(m.ctx, req)
	if err != nil {
		m.fatalf("the input is stuck: claim after a lease = %v (run %s attempt %d)", err, r.Status, r.Attempt)
	}
	started, err := m.store.Start(m.ctx, claimed.Ref(), m.nextMsg())
	if err != nil {
		m.fatalf("start: %v", err)
	}
	a, ref := started.Attempt, started.Ref()
	m.batchesOf[a], m.cfgOf[a] = 2, m.cfg
	hop, stops := 0, 0
	for seq := range 2 {
		if seq > 0 {
			hop, stops = m.finalStop(ref, hop, stops, true)
		}
		for range modelMaxStops {
			hop, stops = m.finalStop(ref, hop, stops, false)
		}
		if _, err := m.sink.WritePart(m.ctx, m.sink.PartKey(m.part, a, seq), batchData(m.t, a, seq, m.cfg), 2); err != nil {
			m.fatalf("write: %v", err)
		}
		if _, err := m.store.BatchWritten(m.ctx, ref, seq); err != nil {
			m.fatalf("batch written: %v", err)
		}
	}
	done, err := m.store.SetTotals(m.ctx, ref, 2, 4, 0)
	if err != nil || !done.Complete() {
		m.fatalf("totals: %+v %v", done, err)
	}
	final := commit.New(m.store, m.sink, commit.WithClock(m.clock.Now))
	if _, err := final.Commit(m.ctx, done, m.part); err != nil {
		m.fatalf("final commit: %v", err)
	}
	r, err = m.store.Get(m.ctx, m.ref.Key())
	if err != nil || r.Status != runs.Succeeded || r.Attempt != a {
		m.fatalf("final run = %+v, %v", r, err)
	}
	m.logf("final: attempt %d SUCCEEDED after %d hops", a, hop)
	for _, c := range m.conts {
		if got, err := m.store.Continue(m.ctx, c.run, c.msg, c.hop); !errors.Is(err, runs.ErrFenced) {
			m.fatalf("the continuation of hop %d of attempt %d, delivered after attempt %d SUCCEEDED: %v %v, want fenced", c.hop, c.run.Attempt, a, attemptOf(got), err)
		}
	}
	m.conts = nil
}

// finalStop is a stop of the final fetch of ref at hop: it must stay
// within the budget, hold the input over its wait, and go on from its
// checkpoint. It returns the hop and the stops in a row the fetch goes
// on with.
func (m *model) finalStop(ref contracts.Run, hop, stops int, progressed bool) (int, int) {
	cause := m.quota()
	next, err := modelStops.After(stops, progressed, cause)
	if err != nil {
		m.fatalf("the final fetch fails after %d stops in a row without progress (SLUICE_MAX_STOPS %d): %v", stops, modelMaxStops, err)
	}
	cp := modelCheckpoint{Fingerprint: modelConfigs[m.cfg].Fingerprint(), Stops: next.Stops, NotBefore: m.clock.Now().Add(next.Wait).UnixMilli()}
	if r, err := m.store.Get(m.ctx, m.ref.Key()); err == nil {
		cp.Batches = len(r.Written)
	}
	state, _ := json.Marshal(cp)
	if err := m.store.CheckpointFor(m.ctx, ref, hop, string(state), next.Wait); err != nil {
		m.fatalf("the final fetch's checkpoint: %v", err)
	}
	m.clock.Add(next.Wait)
	msg := m.nextMsg()
	if _, err := m.store.Claim(m.ctx, runs.ClaimRequest{Source: m.ref.Source, Window: m.ref.Window, Trigger: "manual", MessageID: msg, Floor: m.floor()}); !errors.Is(err, runs.ErrClaimLost) {
		m.fatalf("a claim while the final fetch waits %v after a stop: %v, want it lost", next.Wait, err)
	}
	cur, err := m.store.Continue(m.ctx, ref, m.nextMsg(), hop+1)
	if err != nil || cur.Checkpoint != string(state) {
		m.fatalf("the final fetch's continuation of hop %d after %v: checkpoint %q, %v; want %s", hop+1, next.Wait, cur.Checkpoint, err, state)
	}
	return hop + 1, next.Stops
}

func (m *model) read(uri string) []byte {
	key, ok := m.sink.KeyOf(uri)
	if !ok {
		m.fatalf("pointer names %s, outside the bucket", uri)
	}
	out, err := m.s3.GetObject(m.ctx, &s3.GetObjectInput{Bucket: aws.String(m.sink.Bucket()), Key: aws.String(key)})
	if err != nil {
		m.fatalf("the partition names %s, which cannot be read: %v", uri, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		m.fatalf("read %s: %v", uri, err)
	}
	return b
}

// batchData is batch seq of attempt a fetched under config cfg: two
// records naming all three, so that a mix of attempts, batches or configs
// shows in the content.
func batchData(t *testing.T, a, seq, cfg int) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	fmt.Fprintf(zw, "{\"attempt\":%d,\"seq\":%d,\"cfg\":%d,\"i\":0}\n{\"attempt\":%d,\"seq\":%d,\"cfg\":%d,\"i\":1}\n", a, seq, cfg, a, seq, cfg)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func attemptOf(r runs.Run) string {
	if r.Attempt == 0 {
		return "-"
	}
	return fmt.Sprintf("attempt %d %s", r.Attempt, r.Status)
}

func indexOf(m *model, w *worker) int {
	for i := range m.workers {
		if &m.workers[i] == w {
			return i
		}
	}
	return -1
}
