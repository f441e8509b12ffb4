package commit_test

import (
	"bytes"
	"context"
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
	"github.com/sluice-data/sluice/shared/consumer"
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
//     records for that batch (no mix, no duplicate, nothing partial);
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
	t.Logf("over %d seeds: %d publishes, %d late resumes, %d lost run items, %d releases (%d refused during a commit), %d commits given up on (%d finished as published)",
		seeds, totalPublishes, totalResumed, totalLosses, totalReleases, totalRefused, totalGiveUps, totalFinished)
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
	w := &m.workers[m.rng.IntN(modelWorkers)]
	wi := indexOf(m, w)
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
		r, err := m.store.Claim(m.ctx, req)
		m.logf("%d: w%d claims (force %v, floor %d): %v %v", i, wi, force, req.Floor, attemptOf(r), err)
		if err == nil {
			m.claimed(r, true)
			*w = worker{run: &r, fetchMsg: m.nextMsg()}
		} else if !errors.Is(err, runs.ErrClaimLost) {
			m.fatalf("claim: %v", err)
		}
	case w.run.Status == runs.Claimed || op < 20:
		// Start, or — for a worker that already started — a redelivery of
		// its fetch message, which may restart the fetch as a new attempt.
		r, err := m.store.Start(m.ctx, w.run.Ref(), w.fetchMsg)
		m.logf("%d: w%d starts %d: %v %v", i, wi, w.run.Attempt, attemptOf(r), err)
		if err == nil {
			m.claimed(r, r.Attempt != w.run.Attempt)
			n := 1 + m.rng.IntN(4)
			w.run, w.batches, w.written = &r, n, 0
			m.batchesOf[r.Attempt] = n
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
		if _, err := m.sink.WritePart(m.ctx, key, batchData(m.t, w.run.Attempt, seq), 2); err != nil {
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
		m.giveUp(i, wi, r.Ref(), err)
	}
}

// giveUp is the writer's give-up on the message's last receive: Fail, and
// for a run its attempt is committing, the commit's GiveUp.
func (m *model) giveUp(i, wi int, ref contracts.Run, cause error) {
	err := m.store.Fail(m.ctx, ref, consumer.ClassRetriesExhausted, cause.Error())
	var fe *runs.FencedError
	if errors.As(err, &fe) && fe.Status == runs.Committing && fe.Attempt == ref.Attempt {
		end, err := m.committer.GiveUp(m.ctx, ref, m.part, consumer.ClassRetriesExhausted, cause.Error())
		m.logf("%d: w%d's last receive gives up on the commit of attempt %d: %v %v", i, wi, ref.Attempt, end, err)
		if err != nil {
			m.fatalf("give up: %v", err)
		}
		m.giveUps[end]++
		return
	}
	m.logf("%d: w%d's last receive fails attempt %d: %v", i, wi, ref.Attempt, err)
	if err != nil && !errors.Is(err, runs.ErrFenced) {
		m.fatalf("fail: %v", err)
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
	// The pointer lists the files of the attempt's manifest, which hold
	// its parts 0…n-1 compacted, in order.
	n, ok := m.batchesOf[ptr.Attempt]
	man, err := m.sink.ReadManifest(m.ctx, m.part, ptr.Attempt)
	if !ok || err != nil {
		m.fatalf("the partition shows attempt %d (fetch known: %v), whose manifest reads %v", ptr.Attempt, ok, err)
	}
	if keys := man.Keys(); len(keys) != len(ptr.URIs) {
		m.fatalf("the partition shows %d files, attempt %d's manifest lists %d", len(ptr.URIs), ptr.Attempt, len(keys))
	}
	next := 0
	for i, uri := range ptr.URIs {
		f := man.Files[i]
		if key, _ := m.sink.KeyOf(uri); key != f.Key || f.First != next || !strings.HasPrefix(key, m.sink.AttemptPrefix(m.part, ptr.Attempt)) {
			m.fatalf("the partition's file %d is %s, not attempt %d's file of parts %d-…", i, uri, ptr.Attempt, next)
		}
		if full {
			var want []byte
			for seq := f.First; seq <= f.Last; seq++ {
				want = append(want, gunzip(m.t, batchData(m.t, ptr.Attempt, seq))...)
			}
			if got := gunzip(m.t, m.read(uri)); !bytes.Equal(got, want) {
				m.fatalf("file %d of the published attempt %d holds %q, want parts %d-%d: %q", i, ptr.Attempt, got, f.First, f.Last, want)
			}
		}
		next = f.Last + 1
	}
	if next != n {
		m.fatalf("the partition shows parts 0-%d of attempt %d, whose fetch produced %d", next-1, ptr.Attempt, n)
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
// bring it to SUCCEEDED after at most one lease.
func (m *model) finish() {
	m.clock.Add(modelLease + time.Second)
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
	a := started.Attempt
	m.batchesOf[a] = 2
	for seq := range 2 {
		if _, err := m.sink.WritePart(m.ctx, m.sink.PartKey(m.part, a, seq), batchData(m.t, a, seq), 2); err != nil {
			m.fatalf("write: %v", err)
		}
		if _, err := m.store.BatchWritten(m.ctx, started.Ref(), seq); err != nil {
			m.fatalf("batch written: %v", err)
		}
	}
	done, err := m.store.SetTotals(m.ctx, started.Ref(), 2, 4, 0)
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
	m.logf("final: attempt %d SUCCEEDED", a)
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

// batchData is batch seq of attempt a: two records naming both, so that a
// mix of attempts or batches shows in the content.
func batchData(t *testing.T, a, seq int) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	fmt.Fprintf(zw, "{\"attempt\":%d,\"seq\":%d,\"i\":0}\n{\"attempt\":%d,\"seq\":%d,\"i\":1}\n", a, seq, a, seq)
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
