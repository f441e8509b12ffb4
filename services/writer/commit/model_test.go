package commit_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

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
//   - the partition shows nothing, or exactly the files of one attempt's
//     manifest, which hold its parts 0…n-1 compacted, each that attempt's
//     records for that batch, all fetched under one config (no mix, no
//     duplicate, nothing partial);
//   - the published attempt never goes back;
//   - when the run is SUCCEEDED, the partition shows exactly its attempt;
//   - each attempt's commit is decided at most once;
//   - attempt numbers only grow.
//
// Operator and delivery events join the chaos:
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
// And the fetch's (model_fetch_test.go) and the delivery's
// (model_giveup_test.go), decided as the fetcher and the writer decide
// them:
//
//   - a source stops a walk (a quota; no Retry-After, a short one, one
//     about the lease, one longer than SQS's longest delay): the fetch
//     checkpoints and hands on a delayed continuation, which comes when
//     the clock gets there — sometimes past the lease it holds — and goes
//     on, waits on, or restarts. No claim takes over the lease a stop
//     holds over its wait; a continuation goes on from exactly what its
//     stop checkpointed, and is fenced only when its attempt was ended or
//     taken over; no attempt goes on after more than SLUICE_MAX_STOPS
//     stops in a row without progress, nor fails before;
//   - a deploy changes the source's config between hops: a continuation
//     under another config restarts the fetch as a new attempt (the parts
//     check above tells the configs' records apart); one that changes only
//     pagination.concurrency (a concurrent walk hands over the serial
//     walk's very pages and States) goes on, its batches the same
//     config's;
//   - a message's try fails on its last receive and the consumer's
//     give-up policy runs: a message is deleted only when its run is
//     superseded (SUCCEEDED as its attempt, or a newer attempt owns the
//     input; a batch also when its attempt is committing: its work is
//     done), parked otherwise and never when superseded — nothing that
//     needs a person is dropped.
//
// At the end the chaos stops, and one worker must bring the input to
// SUCCEEDED one lease after the longest wait a stop asked for, through
// SLUICE_MAX_STOPS stops without progress before each page (within the
// stop budget, no claim taking over while it waits); the continuations
// still queued are fenced: nothing stays stuck.
//
// Mutations it catches (each applied alone, the test run, reverted):
// Publish without its attempt check ("the partition went back"); Fail
// accepting COMMITTING and GiveUp without its pointer check ("the run
// FAILED as attempt n …, which the partition shows"); release accepting
// COMMITTING ("shows attempt n, which was released"); the claim ignoring
// its floor ("attempt 1 after attempt n"); handover.Continues not
// comparing fingerprints ("part 1 of the published attempt n holds …
// cfg 0 …; the attempt's fetch began under config 1"); StopPolicy not
// counting stops ("attempt n goes on after 4 stops in a row without
// progress"); CheckpointFor not holding the lease over the wait, and
// BatchWritten/SetTotals shortening it ("a claim while the final fetch
// waits … after a stop: <nil>, want it lost"); CheckpointFor keeping an
// earlier checkpoint ("the continuation of hop 2 … goes on from …; its
// stop checkpointed …") or not counting its hop ("… was fenced, yet its
// attempt runs and nobody took it over"); service.FailRun deleting on any
// fence, and FencedError.Superseded for a FAILED run of the same attempt
// ("a fetch message of attempt n was deleted on its last receive, yet its
// run is attempt n FAILED").

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
	lateBatches   int // batches of a stopped hop written during its wait
	deleted       int
	parked        int
	// concurrencyContinued counts continuations that went on under the
	// attempt's config with another pagination.concurrency.
	concurrencyContinued int
	// slicedContinued counts continuations of an attempt walked in time
	// slices (modelConfigs[3]) that went on from their checkpoint.
	slicedContinued int
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

func (o stallingObjects) CleanUp(ctx context.Context, p sink.Partition, attempt, replaced int, own sink.Own, published []string) (int, int, error) {
	if o.m.rng.IntN(4) == 0 {
		return 0, 0, errCleanup
	}
	return o.Sink.CleanUp(ctx, p, attempt, replaced, own, published)
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
	steps := 250
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
				m.publishes, len(m.stalled), published, m.losses, m.releases, m.refused, m.giveUps[commit.EndedFailed], m.giveUps[commit.EndedSucceeded]+m.giveUps[commit.EndedSucceededBefore])
			totalPublishes += m.publishes
			totalResumed += m.resumed
			totalLosses += m.losses
			totalRefused += m.refused
			totalReleases += m.releases
			totalGiveUps += m.giveUps[commit.EndedFailed] + m.giveUps[commit.EndedSucceeded] + m.giveUps[commit.EndedSucceededBefore]
			totalFinished += m.giveUps[commit.EndedSucceeded] + m.giveUps[commit.EndedSucceededBefore]
			t.Logf("%d config changes, %d stops (%d past the budget), continuations: %d went on, %d waited on, %d restarted under a new config; "+
				"%d messages given up on: %d deleted, %d parked", m.configChanges, m.stops, m.budgetFails, m.continued, m.waitsOn, m.restarts,
				m.deleted+m.parked, m.deleted, m.parked)
			fetches.add(m)
		})
	}
	if testing.Short() {
		return // a smoke run: too few steps for every event to come up
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
	ConfigChanges, Stops, BudgetFails, Continued, WaitsOn, Restarts, Deleted, Parked, ConcurrencyContinued, SlicedContinued int
}

func (f *fetchTotals) add(m *model) {
	f.ConfigChanges += m.configChanges
	f.Stops += m.stops
	f.BudgetFails += m.budgetFails
	f.Continued += m.continued
	f.ConcurrencyContinued += m.concurrencyContinued
	f.SlicedContinued += m.slicedContinued
	f.WaitsOn += m.waitsOn
	f.Restarts += m.restarts
	f.Deleted += m.deleted
	f.Parked += m.parked
}

// enough says whether every event happened at least once.
func (f fetchTotals) enough() bool {
	return f.ConfigChanges > 0 && f.Stops > 0 && f.BudgetFails > 0 && f.Continued > 0 && f.WaitsOn > 0 && f.Restarts > 0 && f.Deleted > 0 && f.Parked > 0 &&
		f.ConcurrencyContinued > 0 && f.SlicedContinued > 0
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
	// coming, a batch its stopped hop sent reaching the writer during the
	// wait, a source stopping a walk (one that got nothing since its
	// last stop is likely to stop again), a last receive failing.
	switch {
	case m.rng.IntN(40) == 0 || (len(m.conts) > 0 && m.rng.IntN(20) == 0):
		m.changeConfig(i) // a deploy, likelier between hops
		return
	case len(m.conts) > 0 && m.rng.IntN(6) == 0:
		m.deliver(i)
		return
	case len(m.conts) > 0 && m.rng.IntN(12) == 0:
		m.lateBatch(i)
		return
	case w.stoppable() && (m.rng.IntN(10) == 0 || (w.stops > 0 && w.written == w.hopFrom && m.rng.IntN(6) != 0)):
		m.stop(i, wi, w)
		return
	case m.rng.IntN(20) == 0:
		m.lastReceive(i, wi, w)
		return
	}
	switch op := m.rng.IntN(100); {
	case op < 6:
		d := time.Duration(m.rng.IntN(int(modelLease/time.Second)+10)) * time.Second
		m.clock.Add(d)
		m.logf("%d: clock +%v", i, d)
	case op < 9 && len(m.stalled) > 0 && (m.stalledBelow() >= 0 || m.rng.IntN(4) == 0):
		// A stalled committer resumes — likelier at the worst moment, once
		// a newer attempt is published.
		k := m.stalledBelow()
		if k < 0 {
			k = m.rng.IntN(len(m.stalled))
		}
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
		var before runs.Run
		if len(m.held) > 0 { // only a stop's held lease needs the run as it stood
			before, _ = m.store.Get(m.ctx, m.ref.Key())
		}
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
	case op < 80 && w.written < w.batches && m.rng.IntN(3) == 0 && m.writeBlock(i, wi, w):
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

// writeBlock stages an aligned block of batches as the writer's Stager
// does — a new one from the next batch, or again one whose batches are
// written (a redelivery) — and counts its batches one by one, the worker
// sometimes crashing between two counts (the rest are then staged again,
// as single parts or in the block, and counted later). Blocks are mostly
// of 2, sometimes of 4 (a deploy changed SLUICE_BLOCK_BATCHES, a power of
// two so that blocks of two sizes nest or are apart): the commit takes
// for each block its object or its single parts. It returns false when
// no block fits.
func (m *model) writeBlock(i, wi int, w *worker) bool {
	size := 2
	if m.rng.IntN(4) == 0 {
		size = 4
	}
	first := w.written - w.written%size
	again := first < w.written
	if again && m.rng.IntN(2) == 0 && w.written >= size {
		first = m.rng.IntN(w.written/size) * size // an earlier block redelivered
	}
	if first+size > w.batches {
		return false
	}
	var body []byte
	for seq := first; seq < first+size; seq++ {
		body = append(body, batchData(m.t, w.run.Attempt, seq, w.cfg)...)
	}
	key := m.sink.BlockKey(m.part, w.run.Attempt, first, first+size-1)
	if _, err := m.sink.WritePart(m.ctx, key, body, 2*size); err != nil {
		m.fatalf("write block: %v", err)
	}
	m.logf("%d: w%d writes block %d-%d of attempt %d", i, wi, first, first+size-1, w.run.Attempt)
	for seq := first; seq < first+size; seq++ {
		if seq > first && m.rng.IntN(5) == 0 {
			m.logf("%d: w%d crashes before counting batch %d of the block", i, wi, seq)
			return true
		}
		w.written = max(w.written, seq+1)
		r, err := m.store.BatchWritten(m.ctx, w.run.Ref(), seq)
		m.logf("%d: w%d counts batch %d of attempt %d: %v", i, wi, seq, w.run.Attempt, err)
		m.maybeCommit(i, wi, r, err)
		if err != nil {
			return true
		}
	}
	return true
}

// stalledBelow is the index of a stalled publish of an attempt below the
// one published, or -1.
func (m *model) stalledBelow() int {
	for k, man := range m.stalled {
		if man.Attempt < m.published {
			return k
		}
	}
	return -1
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
