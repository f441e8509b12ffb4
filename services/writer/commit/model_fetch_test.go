package commit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/handover"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/queue"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/service"
)

// The fetch's side of the model: a source stops a fetch (a quota, a
// Retry-After), the fetch checkpoints and hands on a continuation that
// waits, a deploy changes the source's config between hops. It makes the
// run store calls the fetcher makes, in its order (services/fetcher:
// handler.go, handover.go), and its decisions through shared/handover.

const (
	modelMaxStops    = 3 // SLUICE_MAX_STOPS
	modelStopBackoff = 10 * time.Second
)

var modelStops = handover.StopPolicy{Max: modelMaxStops, Backoff: modelStopBackoff}

// modelConfigs are the deployed configs of the source. 0 and 1 walk other
// pages (page_size); their records are told apart by batchData, so that a
// published attempt fetched under both shows in its content. 2 is 0 walked
// concurrently (pagination.concurrency 4): the very pages and States of
// 0's serial walk (shared/source), so the same fingerprint — an attempt
// begun under one goes on under the other, its batches 0's. 3 is a
// time-filtered cursor walk cut into 4 slices a window (partition.slices).
// The model does not walk slices: for it, 3 is only a fourth fingerprint
// and its own batch content (batchData tells it apart), so what it covers
// is that an attempt begun under it restarts under any other config, one
// begun under another restarts under it, one begun and continued under it
// goes on (slicedContinued, required above zero), and a published
// attempt's content is one config's. The sliced walk itself — slices
// concurrent, interleaved pages, each slice's State in the checkpoint —
// is tested in shared/source (slices_test.go) and the fetcher
// (slices_test.go), not here.
var modelConfigs = [4]*pipeline.Source{
	{Name: "orders", Pagination: pipeline.Pagination{Type: pipeline.PageNumber, PageSize: 100, TotalPagesPath: "pages", Concurrency: 1}},
	{Name: "orders", Pagination: pipeline.Pagination{Type: pipeline.PageNumber, PageSize: 50, TotalPagesPath: "pages", Concurrency: 1}},
	{Name: "orders", Pagination: pipeline.Pagination{Type: pipeline.PageNumber, PageSize: 100, TotalPagesPath: "pages", Concurrency: 4}},
	{Name: "orders", Request: pipeline.Request{Query: map[string]string{"since": "{start:unix}", "until": "{end:unix}"}},
		Pagination: pipeline.Pagination{Type: pipeline.Cursor, PageSize: 100, CursorParam: "cursor", CursorPath: "next", Concurrency: 1},
		Partition:  pipeline.Partition{Every: pipeline.Day, Slices: 4}},
}

// modelWalk is the config whose records config cfg's walk sends.
func modelWalk(cfg int) int {
	if cfg == 2 {
		return 0
	}
	return cfg
}

// modelCheckpoint is what a stop leaves in the run record: the config it
// was cut under, the batches so far (the page it stopped on), the stops in
// a row without progress, and when the source allows the walk to go on.
type modelCheckpoint struct {
	Fingerprint string `json:"fingerprint"`
	Batches     int    `json:"batches"`
	Stops       int    `json:"stops,omitempty"`
	NotBefore   int64  `json:"not_before,omitempty"` // Unix ms
}

// continuation is a fetch message of hop > 0 on its way in the fetch
// queue, visible from at.
type continuation struct {
	run contracts.Run
	hop int
	msg string
	at  time.Time
}

// changeConfig is a deploy: the fetches that begin or continue from here
// on read the other config.
func (m *model) changeConfig(i int) {
	m.cfg = (m.cfg + 1 + m.rng.IntN(2)) % len(modelConfigs)
	m.configChanges++
	m.logf("%d: the source's config changes to %d", i, m.cfg)
}

// quota is why a source stops a fetch: no Retry-After, a short one, one
// about the lease, or one longer than a message's longest delay.
func (m *model) quota() error {
	switch m.rng.IntN(6) {
	case 0, 1:
		return fault.Retryable(errors.New("503 past retry.max_attempts"))
	case 2:
		return fault.RetryAfter(errors.New("429"), 5*time.Second)
	case 3, 4:
		return fault.RetryAfter(errors.New("429"), time.Duration(15+m.rng.IntN(45))*time.Second)
	}
	return fault.RetryAfter(errors.New("429 for the day"), queue.MaxDelay+time.Duration(1+m.rng.IntN(10))*time.Minute)
}

// stop is the fetcher's stop (handover.go): the stop policy decides; past
// the budget the fetch fails permanently (the fetcher's give-up);
// otherwise the walk is checkpointed at the page it stopped on, the lease
// held over the wait, and a continuation sent delayed. The invocation
// ends: the worker is free.
func (m *model) stop(i, wi int, w *worker) {
	ref, a := w.run.Ref(), w.run.Attempt
	progressed := w.written > w.hopFrom
	if progressed {
		m.noProgress[a] = 0
	} else {
		m.noProgress[a]++
	}
	cause := m.quota()
	next, err := modelStops.After(w.stops, progressed, cause)
	if err != nil {
		if m.noProgress[a] <= modelMaxStops {
			m.fatalf("attempt %d failed for stopping after %d stops in a row without progress (SLUICE_MAX_STOPS %d): %v", a, m.noProgress[a], modelMaxStops, err)
		}
		m.budgetFails++
		out := m.deliverFetch(ref, fault.Permanent(fmt.Errorf("fetch %s: %w", ref.Key(), err)), false)
		m.logf("%d: w%d's fetch of attempt %d stops past its budget: %v", i, wi, a, out)
		m.settledPermanent(ref, out)
		*w = worker{}
		return
	}
	if m.noProgress[a] > modelMaxStops {
		m.fatalf("attempt %d goes on after %d stops in a row without progress: past SLUICE_MAX_STOPS (%d)", a, m.noProgress[a], modelMaxStops)
	}
	cp := modelCheckpoint{Fingerprint: modelConfigs[w.cfg].Fingerprint(), Batches: w.written, Stops: next.Stops, NotBefore: m.clock.Now().Add(next.Wait).UnixMilli()}
	m.continueAt(i, ref, w.hop, cp, next.Wait)
	m.logf("%d: w%d's fetch of attempt %d stops at batch %d (%v, wait %v, %d stops without progress)", i, wi, a, w.written, cause, next.Wait, next.Stops)
	m.stops++
	*w = worker{}
}

// continueAt checkpoints cp for hop, the lease held over wait, and sends
// the continuation of hop+1, as the fetcher's continueAt does.
func (m *model) continueAt(i int, ref contracts.Run, hop int, cp modelCheckpoint, wait time.Duration) {
	state, err := json.Marshal(cp)
	if err != nil {
		m.fatalf("encode checkpoint: %v", err)
	}
	err = m.store.CheckpointFor(m.ctx, ref, hop, string(state), wait)
	if errors.Is(err, runs.ErrFenced) {
		m.logf("%d: the checkpoint of hop %d of attempt %d is fenced: %v", i, hop, ref.Attempt, err)
		return
	}
	if err != nil {
		m.fatalf("checkpoint: %v", err)
	}
	now := m.clock.Now()
	m.checkpoints[ref.Attempt] = cp
	m.held[ref.Attempt] = now.Add(wait + modelLease).Unix()
	m.conts = append(m.conts, continuation{run: ref, hop: hop + 1, msg: m.nextMsg(), at: now.Add(min(wait, queue.MaxDelay))})
}

// deliver is a continuation's delivery, as the fetcher's fetch and resume
// take it: the clock goes to when it is visible (sometimes past the lease
// it holds, while others may act), Continue, and then — under the config
// deployed now — the attempt goes on from its checkpoint, restarts from
// the first page (the config changed), or waits on (the source's wait is
// longer than a message's delay).
func (m *model) deliver(i int) {
	k := m.rng.IntN(len(m.conts))
	c := m.conts[k]
	m.conts = append(m.conts[:k], m.conts[k+1:]...)
	if d := c.at.Sub(m.clock.Now()); d > 0 {
		m.clock.Add(d)
	}
	if m.rng.IntN(2) == 0 {
		m.clock.Add(time.Duration(m.rng.IntN(int(modelLease/time.Second)+10)) * time.Second)
	}
	w := m.idleWorker()
	wi := indexOf(m, w)
	cur, err := m.store.Continue(m.ctx, c.run, c.msg, c.hop)
	m.logf("%d: w%d takes the continuation of hop %d of attempt %d: %v %v", i, wi, c.hop, c.run.Attempt, attemptOf(cur), err)
	if errors.Is(err, runs.ErrFenced) {
		m.fencedContinuation(c)
		return
	}
	if err != nil {
		m.fatalf("continue: %v", err)
	}
	a := cur.Attempt
	delete(m.held, a)
	var cp modelCheckpoint
	if err := json.Unmarshal([]byte(cur.Checkpoint), &cp); err != nil {
		m.fatalf("the continuation of hop %d of attempt %d finds an unreadable checkpoint %q: %v", c.hop, a, cur.Checkpoint, err)
	}
	if want := m.checkpoints[a]; cp != want {
		m.fatalf("the continuation of hop %d of attempt %d goes on from %+v; its stop checkpointed %+v", c.hop, a, cp, want)
	}
	if !handover.Continues(cp.Fingerprint, modelConfigs[m.cfg]) {
		why := fmt.Sprintf("hop %d: the config of source %s changed since the checkpoint", c.hop, c.run.Source)
		next, err := m.store.Restart(m.ctx, cur.Ref(), c.msg, why)
		m.logf("%d: w%d restarts attempt %d under config %d: %v %v", i, wi, a, m.cfg, attemptOf(next), err)
		if errors.Is(err, runs.ErrFenced) {
			return
		}
		if err != nil {
			m.fatalf("restart: %v", err)
		}
		m.claimed(next, true)
		m.restarts++
		m.fetchAs(w, next, c.msg)
		return
	}
	if wait := time.UnixMilli(cp.NotBefore).Sub(m.clock.Now()); wait > time.Second {
		m.continueAt(i, cur.Ref(), c.hop, cp, wait)
		m.waitsOn++
		m.logf("%d: w%d: attempt %d waits on %v", i, wi, a, wait)
		return
	}
	if m.cfg != m.cfgOf[a] {
		// Only pagination.concurrency changed since the attempt began:
		// the walk goes on, its batches the same config's.
		if modelWalk(m.cfg) != modelWalk(m.cfgOf[a]) {
			m.fatalf("the continuation of hop %d of attempt %d goes on under config %d, begun under %d: another walk", c.hop, a, m.cfg, m.cfgOf[a])
		}
		m.concurrencyContinued++
	}
	*w = worker{run: &cur, fetchMsg: c.msg, batches: m.batchesOf[a], written: cp.Batches, hopFrom: cp.Batches, stops: cp.Stops, cfg: m.cfg, hop: c.hop}
	m.continued++
	if modelConfigs[m.cfg].Partition.Sliced() {
		m.slicedContinued++
	}
}

// lateBatch is the last batch a stopped hop sent reaching the writer
// while the continuation waits (the batch queue is not the fetch queue):
// the writer stores and counts it as any other.
func (m *model) lateBatch(i int) {
	c := m.conts[m.rng.IntN(len(m.conts))]
	cp := m.checkpoints[c.run.Attempt]
	if cp.Batches == 0 {
		return
	}
	cfg := 0
	for i, c := range modelConfigs {
		if cp.Fingerprint == c.Fingerprint() {
			cfg = modelWalk(i)
		}
	}
	seq := cp.Batches - 1
	if _, err := m.sink.WritePart(m.ctx, m.sink.PartKey(m.part, c.run.Attempt, seq), batchData(m.t, c.run.Attempt, seq, cfg), 2); err != nil {
		m.fatalf("write part: %v", err)
	}
	r, err := m.store.BatchWritten(m.ctx, c.run, seq)
	m.logf("%d: batch %d of the stopped attempt %d reaches the writer during the wait: %v", i, seq, c.run.Attempt, err)
	m.lateBatches++
	m.maybeCommit(i, -1, r, err)
}

// fetchAs makes w fetch run from its first page under the config deployed
// now: a start, a restart.
func (m *model) fetchAs(w *worker, r runs.Run, msg string) {
	n := 1 + m.rng.IntN(4)
	*w = worker{run: &r, fetchMsg: msg, batches: n, cfg: m.cfg}
	m.batchesOf[r.Attempt] = n
	m.cfgOf[r.Attempt] = m.cfg
	m.noProgress[r.Attempt] = 0 // a number taken again after a lost run item starts afresh
	delete(m.checkpoints, r.Attempt)
}

// fencedContinuation checks that a continuation fenced was ended by
// someone: its attempt is not RUNNING any more (released, given up on,
// lost) or a newer one owns the input. A continuation of a RUNNING attempt
// that nobody took over is what its stop checkpointed for.
func (m *model) fencedContinuation(c continuation) {
	r, err := m.store.Get(m.ctx, m.ref.Key())
	if errors.Is(err, runs.ErrNotFound) {
		return
	}
	if err != nil {
		m.fatalf("get run: %v", err)
	}
	if r.RunID == c.run.RunID && r.Attempt == c.run.Attempt && r.Status == runs.Running && r.Taken < c.hop {
		m.fatalf("the continuation of hop %d of attempt %d was fenced, yet its attempt runs and nobody took it over (hops %d): its stop did not checkpoint for it",
			c.hop, c.run.Attempt, r.Hops)
	}
}

// idleWorker is a worker with nothing to do, if there is one; otherwise
// any (a new invocation on a busy slot: what it held is forgotten, as in
// a crash).
func (m *model) idleWorker() *worker {
	for i := range m.workers {
		if m.workers[i].run == nil {
			return &m.workers[i]
		}
	}
	return &m.workers[m.rng.IntN(modelWorkers)]
}

// deliverFetch runs cause — the outcome of a fetch message's try of ref —
// through the consumer's give-up policy with the fetcher's give-up
// (service.FailRun, as its Handle registers it), on the message's last
// receive or not. It returns what the consumer does with the message: nil
// deletes it, an error redelivers it or (permanent) parks it.
func (m *model) deliverFetch(ref contracts.Run, cause error, last bool) error {
	h := consumer.HandlerFunc(func(ctx context.Context, _ consumer.Message) error {
		consumer.OnGiveUp(ctx, service.FailRun(m.store, ref, nil))
		return cause
	})
	return consumer.GiveUp(h).Handle(m.ctx, consumer.Message{ID: m.nextMsg(), ReceiveCount: 5, Last: last, Final: last})
}
