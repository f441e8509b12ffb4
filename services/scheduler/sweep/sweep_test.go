package sweep

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/runs/runstest"
)

// sent records the inputs the sweep sends.
type sent struct {
	mu     sync.Mutex
	inputs []contracts.Input
}

func (s *sent) SendBatch(_ context.Context, _ string, bodies [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range bodies {
		in, err := contracts.DecodeInput(b)
		if err != nil {
			return err
		}
		s.inputs = append(s.inputs, in)
	}
	return nil
}

// fakeDLQ is a DLQ in memory: what is in it, and what the sweep did.
type fakeDLQ struct {
	msgs    []consumer.Message
	deleted []string
	parked  []consumer.Message // sent into the DLQ with a reason
}

func (q *fakeDLQ) Receive(_ context.Context, n int, _, _ time.Duration) ([]consumer.Message, error) {
	var out []consumer.Message
	for _, m := range q.msgs {
		if len(out) < n && !slices.Contains(q.deleted, m.ID) {
			out = append(out, m)
		}
	}
	return out, nil
}

func (q *fakeDLQ) Delete(_ context.Context, m consumer.Message) error {
	q.deleted = append(q.deleted, m.ID)
	return nil
}

func (q *fakeDLQ) Release(context.Context, consumer.Message) error { return nil }

func (q *fakeDLQ) Park(_ context.Context, m consumer.Message, cause error) error {
	p := m
	p.ID = m.ID + "-parked"
	p.Attributes = map[string]string{consumer.AttrError: cause.Error(), consumer.AttrMessageID: consumer.OriginalID(m)}
	q.parked = append(q.parked, p)
	q.msgs = append(q.msgs, p)
	return nil
}

func (q *fakeDLQ) left() []string {
	var ids []string
	for _, m := range q.msgs {
		if !slices.Contains(q.deleted, m.ID) {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

type world struct {
	store *runstest.Store
	clock *runstest.Clock
	out   *sent
	dlqs  map[string]*fakeDLQ
	sw    *Sweeper
}

func newWorld(t *testing.T, maxTakeUps int) *world {
	t.Helper()
	clock := runstest.NewClock(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	w := &world{
		store: runstest.New(runs.Config{Lease: time.Minute}, clock.Now), clock: clock, out: &sent{},
		dlqs: map[string]*fakeDLQ{"inputs": {}, "fetch": {}, "batches": {}},
	}
	dlqs := []DLQ{{Inputs: true, Queue: w.dlqs["inputs"], URL: "inputs-dlq"}, {Queue: w.dlqs["fetch"], URL: "fetch-dlq"}, {Queue: w.dlqs["batches"], URL: "batches-dlq"}}
	sw, err := New(w.store, w.out, dlqs, Config{InputsURL: "inputs", Grace: 5 * time.Second, MaxTakeUps: maxTakeUps})
	if err != nil {
		t.Fatal(err)
	}
	sw.now = clock.Now
	w.sw = sw
	return w
}

func (w *world) sweep(t *testing.T) Report {
	t.Helper()
	rep, err := w.sw.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// claim claims and starts a fetch of window, as dedupe and the fetcher do.
func (w *world) claim(t *testing.T, window, msg string) runs.Run {
	t.Helper()
	ctx := context.Background()
	r, err := w.store.Claim(ctx, runs.ClaimRequest{Source: "orders", Window: window, Trigger: "schedule", MessageID: msg})
	if err != nil {
		t.Fatal(err)
	}
	if r, err = w.store.Start(ctx, r.Ref(), "f-"+msg); err != nil {
		t.Fatal(err)
	}
	return r
}

// claimSent claims what the sweep sent, as dedupe would, and starts its
// fetch, as the fetcher would.
func (w *world) claimSent(t *testing.T) {
	t.Helper()
	for i, in := range w.out.inputs {
		if !in.TakeUp {
			t.Fatalf("the sweep sent %+v, not marked as a take-up", in)
		}
		msg := "sent-" + string(rune('a'+i))
		r, err := w.store.Claim(context.Background(), runs.ClaimRequest{Source: in.Source, Window: in.Window, Trigger: in.Trigger, MessageID: msg, TakeUp: in.TakeUp})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.store.Start(context.Background(), r.Ref(), "f-"+msg); err != nil {
			t.Fatal(err)
		}
	}
	w.out.inputs = nil
}

func fetchBody(t *testing.T, r runs.Run) []byte {
	t.Helper()
	b, err := json.Marshal(contracts.NewFetch(r.Ref(), r.Trigger))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSweepTakesUpExpiredRunsOnceALeaseAndFailsThemPastTheBudget(t *testing.T) {
	w := newWorld(t, 2)
	w.claim(t, "2026-11-01", "m-1")
	w.clock.Add(30 * time.Second)
	w.claim(t, "2026-11-02", "m-2") // expires 30s later

	if rep := w.sweep(t); rep.Expired != 0 || len(w.out.inputs) != 0 {
		t.Fatalf("sweep with every lease live: %+v, sent %v", rep, w.out.inputs)
	}
	w.clock.Add(33 * time.Second) // the first lease expired 3s ago: within the grace
	if rep := w.sweep(t); rep.TakenUp != 0 {
		t.Fatalf("taken up within the grace: %+v", rep)
	}
	w.clock.Add(5 * time.Second)
	rep := w.sweep(t)
	if rep.TakenUp != 1 || len(w.out.inputs) != 1 {
		t.Fatalf("sweep past the grace: %+v, sent %v", rep, w.out.inputs)
	}
	in := w.out.inputs[0]
	if in.Key() != "orders/2026-11-01" || in.Trigger != "schedule" || in.Force {
		t.Fatalf("sent %+v, want the run's input, its trigger, not forced", in)
	}
	// The input is on its way: the next sweep does not send it again.
	if rep := w.sweep(t); rep.TakenUp != 0 {
		t.Fatalf("taken up twice within a lease: %+v", rep)
	}
	w.claimSent(t) // dedupe claims attempt 2, whose worker dies too
	for i := range 2 {
		w.clock.Add(time.Minute + 6*time.Second)
		rep := w.sweep(t)
		r, _ := w.store.Get(context.Background(), "orders/2026-11-01")
		if i == 0 && (rep.TakenUp != 2 || r.TakeUps != 2) { // and the second window's, once
			t.Fatalf("second take-up: %+v, run %+v", rep, r)
		}
		if i == 1 && (rep.GivenUp != 1 || r.Status != runs.Failed || r.ErrorClass != runs.ClassCrashed) {
			t.Fatalf("past the budget: %+v, run %s %s %s", rep, r.Status, r.ErrorClass, r.LastError)
		}
		w.claimSent(t)
	}
}

func TestSweepReconcilesTheDLQs(t *testing.T) {
	w := newWorld(t, 3)
	ctx := context.Background()
	// A run that SUCCEEDED as attempt 2: its attempt-1 fetch and its input are not needed.
	first := w.claim(t, "2026-11-01", "m-1")
	w.clock.Add(2 * time.Minute)
	done := w.claim(t, "2026-11-01", "m-2")
	if _, err := w.store.SetTotals(ctx, done.Ref(), 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.store.BeginCommit(ctx, done.Ref()); err != nil {
		t.Fatal(err)
	}
	if _, err := w.store.FinishCommit(ctx, done.Ref(), 0); err != nil {
		t.Fatal(err)
	}
	// A run that FAILED: its bare message is parked with the reason, one with a reason stays.
	failed := w.claim(t, "2026-11-02", "m-3")
	if err := w.store.Fail(ctx, failed.Ref(), runs.ClassCrashed, "the worker died 4 times on this run"); err != nil {
		t.Fatal(err)
	}
	// An open run: its messages wait.
	open := w.claim(t, "2026-11-03", "m-4")
	// A newer attempt owns a run: the older attempt's message is not needed.
	old := w.claim(t, "2026-11-04", "m-5")
	// A newer attempt FAILED: the older attempt's bare message is what a
	// person redrives, parked with the reason.
	older := w.claim(t, "2026-11-05", "m-7")
	w.clock.Add(2 * time.Minute)
	w.claim(t, "2026-11-04", "m-6")
	newer := w.claim(t, "2026-11-05", "m-8")
	if err := w.store.Fail(ctx, newer.Ref(), runs.ClassCrashed, "the worker died 3 times on this run"); err != nil {
		t.Fatal(err)
	}

	input := func(window string, force bool, forceID string) []byte {
		in := contracts.NewInput("orders", window, "manual", force)
		in.ForceID = forceID
		b, _ := json.Marshal(in)
		return b
	}
	w.dlqs["fetch"].msgs = []consumer.Message{
		{ID: "succeeded", Body: fetchBody(t, first)},
		{ID: "failed-bare", Body: fetchBody(t, failed)},
		{ID: "failed-with-reason", Body: fetchBody(t, failed), Attributes: map[string]string{consumer.AttrError: "HTTP 401"}},
		{ID: "open", Body: fetchBody(t, open)},
		{ID: "superseded", Body: fetchBody(t, old)},
		{ID: "older-of-failed", Body: fetchBody(t, older)},
		{ID: "garbage", Body: []byte("not json")},
		{ID: "no-run", Body: []byte(`{"v":1,"kind":"fetch","source":"orders","window":"2026-11-09","attempt":1}`)},
	}
	w.dlqs["inputs"].msgs = []consumer.Message{
		{ID: "input-succeeded", Body: input("2026-11-01", false, "")},
		{ID: "input-forced-other", Body: input("2026-11-01", true, "force-2")},
		{ID: "input-failed", Body: input("2026-11-02", false, "")},
		{ID: "input-open", Body: input("2026-11-03", false, "")},
		{ID: "input-garbage", Body: []byte(`{"v":1}`)},
	}
	rep := w.sweep(t)

	if got, want := w.dlqs["fetch"].left(), []string{"failed-with-reason", "open", "garbage", "no-run", "failed-bare-parked", "older-of-failed-parked"}; !slices.Equal(got, want) {
		t.Errorf("fetch DLQ holds %v, want %v", got, want)
	}
	if p := w.dlqs["fetch"].parked; len(p) != 2 || !strings.Contains(p[0].Attributes[consumer.AttrError], "the worker died 4 times") ||
		!strings.Contains(p[0].Attributes[consumer.AttrError], runs.ClassCrashed) || !strings.Contains(p[1].Attributes[consumer.AttrError], "attempt 2 FAILED") {
		t.Errorf("parked %+v, want the bare messages of FAILED runs, each with its run's reason", p)
	}
	if got, want := w.dlqs["inputs"].left(), []string{"input-forced-other", "input-open", "input-garbage", "input-failed-parked"}; !slices.Equal(got, want) {
		t.Errorf("inputs DLQ holds %v, want %v", got, want)
	}
	if rep.Deleted != 3 || rep.Parked != 3 || rep.Unreadable != 2 {
		t.Errorf("report %+v: want 3 deleted, 3 parked, 2 unreadable", rep)
	}
	// A second sweep changes nothing.
	before := len(w.dlqs["fetch"].deleted) + len(w.dlqs["inputs"].deleted)
	if rep := w.sweep(t); rep.Deleted != 0 || rep.Parked != 0 || len(w.dlqs["fetch"].deleted)+len(w.dlqs["inputs"].deleted) != before {
		t.Errorf("second sweep: %+v", rep)
	}
}

// failingTakeUp is a run store whose TakeUp fails for one input.
type failingTakeUp struct {
	*runstest.Store
	input string
}

func (f failingTakeUp) TakeUp(ctx context.Context, req runs.TakeUpRequest) (runs.TakeUpOutcome, error) {
	if req.Run.Input == f.input {
		return runs.NotTakenUp, errors.New("dynamodb: throttled")
	}
	return f.Store.TakeUp(ctx, req)
}

// A take-up that fails leaves the others to be sent, and the DLQs to be
// reconciled; the sweep returns the error.
func TestSweepGoesOnPastAFailedTakeUp(t *testing.T) {
	w := newWorld(t, 3)
	w.claim(t, "2026-11-01", "m-1")
	w.claim(t, "2026-11-02", "m-2")
	done := w.claim(t, "2026-11-03", "m-3")
	w.dlqs["fetch"].msgs = []consumer.Message{{ID: "superseded", Body: fetchBody(t, done)}}
	w.clock.Add(2 * time.Minute)
	w.claim(t, "2026-11-03", "m-4") // attempt 2: the DLQ message is not needed
	w.clock.Add(2 * time.Minute)
	sw, err := New(failingTakeUp{w.store, "orders/2026-11-01"}, w.out, []DLQ{{Queue: w.dlqs["fetch"], URL: "fetch-dlq"}}, Config{InputsURL: "inputs", Grace: 5 * time.Second, MaxTakeUps: 3})
	if err != nil {
		t.Fatal(err)
	}
	sw.now = w.clock.Now
	rep, err := sw.Sweep(context.Background())
	if err == nil || !strings.Contains(err.Error(), "orders/2026-11-01") {
		t.Fatalf("sweep error %v, want the failed take-up's", err)
	}
	var sent []string
	for _, in := range w.out.inputs {
		sent = append(sent, in.Key())
	}
	slices.Sort(sent)
	if want := []string{"orders/2026-11-02", "orders/2026-11-03"}; !slices.Equal(sent, want) || rep.TakenUp != 2 {
		t.Fatalf("sent %v (report %+v), want %v", sent, rep, want)
	}
	if rep.Deleted != 1 {
		t.Fatalf("report %+v: the DLQ was not reconciled after the failed take-up", rep)
	}
}

// Queued work is not taken up: a CLAIMED run (its fetch message waits in a
// backlog) nor a RUNNING run whose fetch finished (its batches wait), however
// long past their lease. Once their message is in a DLQ, bare, it is
// parked with a reason a person can act on.
func TestSweepLeavesQueuedWorkAndParksItsDeadMessages(t *testing.T) {
	w := newWorld(t, 2)
	ctx := context.Background()
	queued, err := w.store.Claim(ctx, runs.ClaimRequest{Source: "orders", Window: "2026-11-01", Trigger: "schedule", MessageID: "m-1"})
	if err != nil {
		t.Fatal(err)
	}
	fetched := w.claim(t, "2026-11-02", "m-2")
	if err := w.store.Fetched(ctx, fetched.Ref(), "f-m-2"); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		w.clock.Add(time.Minute + 6*time.Second)
		if rep := w.sweep(t); rep.TakenUp != 0 || rep.GivenUp != 0 || len(w.out.inputs) != 0 {
			t.Fatalf("sweep of queued work: %+v, sent %v", rep, w.out.inputs)
		}
	}
	for _, r := range []runs.Run{queued, fetched} {
		if cur, _ := w.store.Get(ctx, r.Input); cur.Attempt != r.Attempt || !cur.Status.Live() || cur.TakeUps != 0 {
			t.Fatalf("queued run changed: %+v", cur)
		}
	}
	batch, _ := json.Marshal(contracts.Batch{V: 1, Kind: contracts.KindBatch, Run: fetched.Ref(), Seq: 0})
	w.dlqs["fetch"].msgs = []consumer.Message{{ID: "never-started", Body: fetchBody(t, queued)}}
	w.dlqs["batches"].msgs = []consumer.Message{{ID: "batch-died", Body: batch}}
	if rep := w.sweep(t); rep.Parked != 2 {
		t.Fatalf("sweep with the dead messages of queued work: %+v", rep)
	}
	if p := w.dlqs["fetch"].parked; len(p) != 1 || !strings.Contains(p[0].Attributes[consumer.AttrError], "the fetcher never started this run") {
		t.Errorf("fetch DLQ parked %+v, want the CLAIMED run's message with why", p)
	}
	if p := w.dlqs["batches"].parked; len(p) != 1 || !strings.Contains(p[0].Attributes[consumer.AttrError], "its fetch finished") {
		t.Errorf("batches DLQ parked %+v, want the fetched run's batch with why", p)
	}
}

// A message the fetcher parked on purpose (its own restart holds the
// lease) is kept while that restart runs: Park gave the copy a new id, but
// it names the original, which the run's fetch_msg is.
func TestSweepKeepsAParkedCopyOfTheRunsOwnFetchMessage(t *testing.T) {
	w := newWorld(t, 3)
	ctx := context.Background()
	first := w.claim(t, "2026-11-01", "m-1") // fetch message f-m-1
	if err := w.store.Yield(ctx, first.Ref(), "f-m-1"); err != nil {
		t.Fatal(err)
	}
	restarted, err := w.store.Start(ctx, first.Ref(), "f-m-1") // its restart, attempt 2
	if err != nil || restarted.Attempt != 2 {
		t.Fatalf("restart = %+v, %v", restarted, err)
	}
	w.dlqs["fetch"].msgs = []consumer.Message{{ID: "parked-copy", Body: fetchBody(t, first),
		Attributes: map[string]string{consumer.AttrError: "lease held by its restart", consumer.AttrMessageID: "f-m-1"}}}
	if rep := w.sweep(t); rep.Deleted != 0 {
		t.Fatalf("sweep deleted the parked copy of the run's own fetch message: %+v", rep)
	}
	if got := w.dlqs["fetch"].left(); !slices.Equal(got, []string{"parked-copy"}) {
		t.Fatalf("fetch DLQ holds %v", got)
	}
}

// The configured values are the sweep's: a zero is not a default, and a
// value that cannot work is refused.
func TestNewTakesTheConfigAsGiven(t *testing.T) {
	for _, tt := range []struct {
		name    string
		cfg     Config
		wantErr string
		want    Config // of the fields checked
	}{
		{"no grace", Config{InputsURL: "q", Grace: 0, MaxTakeUps: 3}, "", Config{Grace: 0, MaxTakeUps: 3}},
		{"a budget of one", Config{InputsURL: "q", Grace: time.Second, MaxTakeUps: 1}, "", Config{Grace: time.Second, MaxTakeUps: 1}},
		{"no budget", Config{InputsURL: "q", Grace: time.Second, MaxTakeUps: 0}, "SLUICE_MAX_TAKEUPS: 0 must be at least 1", Config{}},
		{"a negative grace", Config{InputsURL: "q", Grace: -time.Second, MaxTakeUps: 3}, "SLUICE_SWEEP_GRACE", Config{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sw, err := New(runstest.New(runs.Config{Lease: time.Minute}, nil), &sent{}, nil, tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New = %v, want an error naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sw.cfg.Grace != tt.want.Grace || sw.cfg.MaxTakeUps != tt.want.MaxTakeUps {
				t.Fatalf("grace %v, budget %d; want %v, %d", sw.cfg.Grace, sw.cfg.MaxTakeUps, tt.want.Grace, tt.want.MaxTakeUps)
			}
		})
	}
}
