package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/pack"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/runs/runstest"
	"github.com/sluice-data/sluice/shared/source"
)

const (
	fetchURL   = "https://sqs.test/sluice-fetch"
	batchesURL = "https://sqs.test/sluice-batches"
	maxMessage = 32 << 10 // the smallest the config allows, so a few hundred records need several batches
	maxReceive = 5
)

// theRun is the run of testdata/fetch.json.
var theRun = contracts.Run{Source: "orders", Window: "2026-11-01", RunID: "r-7", Attempt: 2}

// trace records the calls made to all fakes, in order.
type trace struct {
	mu    sync.Mutex
	calls []string
}

func (t *trace) add(call string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.calls = append(t.calls, call)
}

func (t *trace) count(call string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, c := range t.calls {
		if c == call {
			n++
		}
	}
	return n
}

type failCall struct {
	run        contracts.Run
	class, msg string
}

// tracedRuns is the in-memory run store with its calls traced and
// recorded, and the configured errors injected in place of its answers.
type tracedRuns struct {
	*runstest.Store
	tr                              *trace
	startErr, heartbeatErr, failErr error
	mu                              sync.Mutex
	started, heartbeats             []contracts.Run
	startMsgs                       []string
	fails                           []failCall
	yields                          []contracts.Run
}

var _ runStore = (*tracedRuns)(nil)

// newRuns returns the store holding theRun CLAIMED, its lease running for
// lease.
func newRuns(t *testing.T, tr *trace, lease time.Duration) *tracedRuns {
	t.Helper()
	st := runstest.New(runs.Config{Lease: lease}, nil)
	st.Seed(runs.Run{
		Input: theRun.Key(), Source: theRun.Source, Window: theRun.Window, RunID: theRun.RunID, Attempt: theRun.Attempt,
		Status: runs.Claimed, Trigger: "schedule", ClaimMessage: "c-1", LeaseUntil: time.Now().Add(lease).Unix(),
	})
	return &tracedRuns{Store: st, tr: tr}
}

// runningExpired makes theRun RUNNING by fetch message m-1, its lease
// expired: the try died, and the message's redelivery restarts it.
func (f *tracedRuns) runningExpired() {
	r, _ := f.Store.Get(context.Background(), theRun.Key())
	r.Status, r.FetchMessage, r.LeaseUntil = runs.Running, "m-1", time.Now().Add(-time.Minute).Unix()
	f.Store.Seed(r)
}

// seedStatus makes theRun's input stand at attempt n in status st.
func (f *tracedRuns) seedStatus(n int, st runs.Status) {
	r, _ := f.Store.Get(context.Background(), theRun.Key())
	r.Attempt, r.Status = n, st
	f.Store.Seed(r)
}

func (f *tracedRuns) StartHop(ctx context.Context, r contracts.Run, fetchMsg string, hop int) (runs.Run, error) {
	f.tr.add("start")
	f.mu.Lock()
	f.started = append(f.started, r)
	f.startMsgs = append(f.startMsgs, fetchMsg)
	f.mu.Unlock()
	if f.startErr != nil {
		return runs.Run{}, f.startErr
	}
	return f.Store.StartHop(ctx, r, fetchMsg, hop)
}

func (f *tracedRuns) CheckpointFor(ctx context.Context, r contracts.Run, hop int, state string, wait time.Duration) error {
	f.tr.add("checkpoint")
	return f.Store.CheckpointFor(ctx, r, hop, state, wait)
}

func (f *tracedRuns) Heartbeat(ctx context.Context, r contracts.Run) (time.Time, error) {
	f.tr.add("heartbeat")
	f.mu.Lock()
	f.heartbeats = append(f.heartbeats, r)
	f.mu.Unlock()
	if f.heartbeatErr != nil {
		return time.Time{}, f.heartbeatErr
	}
	return f.Store.Heartbeat(ctx, r)
}

func (f *tracedRuns) heartbeatCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.heartbeats)
}

func (f *tracedRuns) Yield(ctx context.Context, r contracts.Run, fetchMsg string) error {
	f.tr.add("yield")
	f.mu.Lock()
	f.yields = append(f.yields, r)
	f.mu.Unlock()
	return f.Store.Yield(ctx, r, fetchMsg)
}

func (f *tracedRuns) Fail(ctx context.Context, r contracts.Run, class, msg string) error {
	f.tr.add("fail")
	f.mu.Lock()
	f.fails = append(f.fails, failCall{r, class, msg})
	f.mu.Unlock()
	if f.failErr != nil {
		return f.failErr
	}
	return f.Store.Fail(ctx, r, class, msg)
}

// fakePager serves pages of records, then returns err.
type fakePager struct {
	tr     *trace
	pages  [][][]byte
	err    error
	src    string
	window pipeline.Window
	served int           // pages whose callback returned nil
	delay  time.Duration // each page takes this long to arrive
}

var _ pager = (*fakePager)(nil)

func (f *fakePager) FetchFrom(ctx context.Context, src *pipeline.Source, w pipeline.Window, from *source.State, page func(context.Context, source.Page) error) error {
	f.tr.add("fetch")
	f.src, f.window = src.Name, w
	first := 0
	if from != nil {
		first = from.Pages
	}
	for i := first; i < len(f.pages); i++ {
		recs := f.pages[i]
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return ctx.Err()
		}
		var next *source.State
		if i+1 < len(f.pages) {
			next = &source.State{Pages: i + 1}
		}
		if err := page(ctx, source.Page{Number: i, Records: recs, Bytes: pageBytes(recs), Next: next}); err != nil {
			return err // as source.Client does: the callback's error, as is
		}
		f.served++
	}
	return f.err
}

// FetchSlices is not served: the fake pages a window whole.
func (f *fakePager) FetchSlices(context.Context, *pipeline.Source, pipeline.Window, []source.Slice, func(context.Context, source.Page) error) error {
	return errors.New("fakePager walks no slices")
}

// pageBytes is the size of a response body holding recs.
func pageBytes(recs [][]byte) int {
	return len(`{"data":[]}`) + len(bytes.Join(recs, []byte(",")))
}

// fakeSender keeps what it is sent; Send fails with sendErr.
type fakeSender struct {
	tr      *trace
	sendErr error
	mu      sync.Mutex
	urls    []string
	batches [][]byte
	json    []any
	delays  []time.Duration // of each json message
}

var _ sender = (*fakeSender)(nil)

func (f *fakeSender) Send(_ context.Context, url string, body []byte) error {
	f.tr.add("send")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.urls = append(f.urls, url)
	if f.sendErr != nil {
		return f.sendErr
	}
	f.batches = append(f.batches, bytes.Clone(body))
	return nil
}

func (f *fakeSender) SendJSON(_ context.Context, url string, v any) error {
	f.tr.add("send json")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.urls = append(f.urls, url)
	f.json = append(f.json, v)
	f.delays = append(f.delays, 0)
	return nil
}

func (f *fakeSender) SendJSONAfter(_ context.Context, url string, v any, delay time.Duration) error {
	f.tr.add("send json")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.urls = append(f.urls, url)
	f.json = append(f.json, v)
	f.delays = append(f.delays, delay)
	return nil
}

type fixture struct {
	h     *handler
	tr    *trace
	runs  *tracedRuns
	pager *fakePager
	out   *fakeSender
}

func newFixture(t *testing.T, pages [][][]byte) *fixture {
	t.Helper()
	p, err := pipeline.Parse("demo.yaml", []byte(demoapi.PipelineYAML("http://api.test", nil)))
	if err != nil {
		t.Fatal(err)
	}
	tr := &trace{}
	fx := &fixture{tr: tr, runs: newRuns(t, tr, time.Hour), pager: &fakePager{tr: tr, pages: pages}, out: &fakeSender{tr: tr}}
	fx.h = &handler{
		pipeline: p, runs: fx.runs, pages: fx.pager, out: fx.out,
		fetchURL: fetchURL, batchesURL: batchesURL, maxMessage: maxMessage, heartbeat: time.Hour,
		maxStops: 10, stopBackoff: 30 * time.Second,
	}
	return fx
}

func (fx *fixture) handle(t *testing.T, body []byte, receive int) error {
	t.Helper()
	return fx.handleAs(t, "m-1", body, receive)
}

// handleAs handles body as the message with id msgID, through the delivery
// policy that gives up on the run, as served.
func (fx *fixture) handleAs(t *testing.T, msgID string, body []byte, receive int) error {
	t.Helper()
	return consumer.GiveUp(fx.h).Handle(context.Background(),
		consumer.Message{ID: msgID, Body: body, ReceiveCount: receive, Last: receive >= maxReceive, Final: receive >= maxReceive})
}

func golden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// records returns n compact JSON records of about 150 bytes that compress
// only about 2:1, as real ids and hashes do.
func records(seed uint64, n int) [][]byte {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, `{"id":%d,"customer":"c-%05d","total_cents":%d,"hash":"%016x%016x%016x%016x"}`,
			seed*100000+uint64(i), r.IntN(100000), r.IntN(1000000), r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64())
	}
	return out
}

// paged cuts recs into pages of size records.
func paged(recs [][]byte, size int) [][][]byte {
	var pages [][][]byte
	for recs := range slices.Chunk(recs, size) {
		pages = append(pages, recs)
	}
	return pages
}

// sentBatches decodes and checks every batch the sender got.
func sentBatches(t *testing.T, bodies [][]byte) []contracts.Batch {
	t.Helper()
	out := make([]contracts.Batch, len(bodies))
	for i, body := range bodies {
		if len(body) > maxMessage {
			t.Errorf("batch %d is %d bytes, over the %d-byte limit", i, len(body), maxMessage)
		}
		b, err := contracts.DecodeBatch(body)
		if err != nil {
			t.Fatalf("batch %d does not decode: %v", i, err)
		}
		// Verify checks the checksum the packer computed; only
		// decompressing shows that the payload holds what the header says.
		if err := pack.Verify(b); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		if err := pack.VerifyByInflating(b); err != nil {
			t.Fatalf("batch %d, decompressed: %v", i, err)
		}
		if b.Seq != i || b.Run != theRun {
			t.Fatalf("batch %d is seq %d of %+v, want seq %d of %+v", i, b.Seq, b.Run, i, theRun)
		}
		out[i] = b
	}
	return out
}

func TestHandlePacksEveryRecordOnce(t *testing.T) {
	pretty := []byte("{\n  \"id\": 7,\n  \"tags\": [\n    \"a\",\n    \"b\"\n  ],\n  \"note\": \"two\\nlines\"\n}")
	crlf := []byte("{\"id\": 8,\r\n \"ok\": true}")
	many := records(1, 1200)
	many = slices.Insert(many, 333, pretty)
	many = slices.Insert(many, 700, crlf)

	tests := []struct {
		name        string
		pages       [][][]byte
		minBatches  int
		wantRecords [][]byte // as the batches must carry them
	}{
		{
			name:       "many pages into several batches, multi-line records compacted",
			pages:      paged(many, 100),
			minBatches: 4,
			wantRecords: func() [][]byte {
				want := slices.Clone(many)
				want[333] = []byte(`{"id":7,"tags":["a","b"],"note":"two\nlines"}`)
				want[700] = []byte(`{"id":8,"ok":true}`)
				return want
			}(),
		},
		{
			name:        "one page into one batch",
			pages:       [][][]byte{records(2, 5)},
			minBatches:  1,
			wantRecords: records(2, 5),
		},
		{
			name:        "empty pages are skipped",
			pages:       [][][]byte{records(3, 3), {}, records(4, 2), {}},
			minBatches:  1,
			wantRecords: slices.Concat(records(3, 3), records(4, 2)),
		},
		{
			name:  "no records: no batch, a Done of zero",
			pages: [][][]byte{{}},
		},
		{
			name: "one page whose records just fill batches",
			// Each ~10 KiB record fits twice in one 32 KiB message: three batches.
			pages: [][][]byte{{
				fmt.Appendf(nil, `{"blob":%q}`, strings.Repeat("x", 10<<10)),
				fmt.Appendf(nil, `{"blob":%q}`, strings.Repeat("y", 10<<10)),
				fmt.Appendf(nil, `{"blob":%q}`, strings.Repeat("z", 10<<10)),
				fmt.Appendf(nil, `{"blob":%q}`, strings.Repeat("w", 10<<10)),
				fmt.Appendf(nil, `{"blob":%q}`, strings.Repeat("v", 10<<10)),
			}},
			minBatches: 3,
			wantRecords: [][]byte{
				fmt.Appendf(nil, `{"blob":%q}`, strings.Repeat("x", 10<<10)),
				fmt.Appendf(nil, `{"blob":%q}`, strings.Repeat("y", 10<<10)),
				fmt.Appendf(nil, `{"blob":%q}`, strings.Repeat("z", 10<<10)),
				fmt.Appendf(nil, `{"blob":%q}`, strings.Repeat("w", 10<<10)),
				fmt.Appendf(nil, `{"blob":%q}`, strings.Repeat("v", 10<<10)),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, tt.pages)
			if err := fx.handle(t, golden(t, "fetch.json"), 1); err != nil {
				t.Fatalf("Handle = %v", err)
			}

			// The run is started before the first page is asked for, and
			// the Done comes after every batch.
			calls := fx.tr.calls
			if len(calls) < 3 || calls[0] != "start" || calls[1] != "fetch" || calls[len(calls)-1] != "send json" {
				t.Fatalf("calls = %v, want start, fetch, sends, then the Done", calls)
			}
			if fx.runs.started[0] != theRun || fx.runs.startMsgs[0] != "m-1" {
				t.Fatalf("started %+v by %q, want %+v by the fetch message m-1", fx.runs.started[0], fx.runs.startMsgs[0], theRun)
			}
			if fx.pager.src != "orders" || !fx.pager.window.Start.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)) ||
				!fx.pager.window.End.Equal(time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)) {
				t.Fatalf("fetched %s %v, want orders over 2026-11-01", fx.pager.src, fx.pager.window)
			}
			for i, u := range fx.out.urls {
				if u != batchesURL {
					t.Fatalf("message %d sent to %q, want %q", i, u, batchesURL)
				}
			}

			batches := sentBatches(t, fx.out.batches)
			t.Logf("%d batches", len(batches))
			if len(batches) < tt.minBatches {
				t.Fatalf("%d batches, want at least %d", len(batches), tt.minBatches)
			}
			var got [][]byte
			for _, b := range batches {
				lines, err := pack.Lines(b)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, lines...)
			}
			if len(got) != len(tt.wantRecords) {
				t.Fatalf("batches hold %d records, want %d", len(got), len(tt.wantRecords))
			}
			for i := range got {
				if !bytes.Equal(got[i], tt.wantRecords[i]) {
					t.Fatalf("record %d = %.80s, want %.80s", i, got[i], tt.wantRecords[i])
				}
			}

			var wantBytes int64
			for _, p := range tt.pages {
				wantBytes += int64(pageBytes(p))
			}
			want := contracts.NewDone(theRun, len(batches), int64(len(tt.wantRecords)), wantBytes)
			if len(fx.out.json) != 1 || fx.out.json[0] != want {
				t.Fatalf("JSON messages = %+v, want one %+v", fx.out.json, want)
			}
			if len(fx.runs.fails) > 0 || len(fx.runs.heartbeats) > 0 {
				t.Fatalf("fails %v, heartbeats %v: want none", fx.runs.fails, fx.runs.heartbeats)
			}
			// The run says its fetch finished, for the sweep to leave it
			// to its queued batches.
			if r, err := fx.runs.Store.Get(context.Background(), theRun.Key()); err != nil || !r.Fetched || r.Status != runs.Running {
				t.Fatalf("run after the Done: %+v, %v; want RUNNING, fetched", r, err)
			}
		})
	}
}

func TestHandleFailures(t *testing.T) {
	notFound := &source.StatusError{StatusCode: 404, Body: `{"error":"no such source"}`}
	unavailable := &source.StatusError{StatusCode: 503}
	huge := fmt.Appendf(nil, `{"blob":%q}`, strings.Repeat("x", maxMessage))
	type want struct {
		result    string // "nil", "retry", "permanent" or "parked" (permanent: retries exhausted, parked by the consumer)
		cause     error  // errors.Is or errors.As target, when set
		failClass string // "" for no Fail
		fetched   bool   // the pager was called
		done      bool   // a Done was sent
		yield     bool   // the run was yielded for the redelivery
		stopped   bool   // the walk stopped on the source: checkpointed, a delayed continuation sent
	}
	tests := []struct {
		name    string
		body    []byte
		pages   [][][]byte
		receive int
		setup   func(*fixture)
		want    want
	}{
		{
			name:    "record larger than one message can carry",
			pages:   [][][]byte{{records(1, 1)[0], huge}},
			receive: 1,
			want:    want{result: "permanent", failClass: "permanent", fetched: true},
		},
		{
			name:    "multi-line record that is not JSON",
			pages:   [][][]byte{{[]byte("{\n\"id\": }")}},
			receive: 1,
			want:    want{result: "permanent", failClass: "permanent", fetched: true},
		},
		{
			name:    "permanent API error fails the run at once",
			receive: 1,
			setup:   func(fx *fixture) { fx.pager.err = fault.Permanent(fmt.Errorf("source orders page 0: %w", notFound)) },
			want:    want{result: "permanent", cause: notFound, failClass: "permanent", fetched: true},
		},
		{
			name:    "retryable API error stops the walk: checkpoint, delayed continuation, no redelivery",
			receive: 1,
			setup:   func(fx *fixture) { fx.pager.err = fault.Retryable(fmt.Errorf("source orders page 3: %w", unavailable)) },
			want:    want{result: "nil", fetched: true, stopped: true},
		},
		{
			name:    "retryable API error on the last receive stops the walk the same way",
			receive: maxReceive,
			setup:   func(fx *fixture) { fx.pager.err = fault.Retryable(fmt.Errorf("source orders page 3: %w", unavailable)) },
			want:    want{result: "nil", fetched: true, stopped: true},
		},
		{
			name:    "unclassified API error stops the walk as a retryable one",
			receive: maxReceive + 1,
			setup:   func(fx *fixture) { fx.pager.err = errors.New("connection reset") },
			want:    want{result: "nil", fetched: true, stopped: true},
		},
		{
			name:    "unclassified error past the last receive fails the run and parks the message",
			receive: maxReceive + 1,
			setup:   func(fx *fixture) { fx.runs.startErr = errors.New("connection reset") },
			want:    want{result: "parked", failClass: "retries-exhausted"},
		},
		{
			name:    "batch send failure on the last receive fails the run and parks the message with its reason",
			receive: maxReceive,
			setup:   func(fx *fixture) { fx.out.sendErr = fault.Retryable(errors.New("sqs unavailable")) },
			want:    want{result: "parked", failClass: "retries-exhausted", fetched: true},
		},
		{
			name:    "last receive of a fetch whose run SUCCEEDED meanwhile: deleted, not parked",
			receive: maxReceive,
			setup: func(fx *fixture) {
				fx.runs.seedStatus(theRun.Attempt, runs.Succeeded)
				fx.runs.startErr = fault.Retryable(errors.New("runs table throttled"))
			},
			want: want{result: "nil", failClass: "retries-exhausted"},
		},
		{
			name:    "last receive of a fetch whose input a newer attempt owns: deleted, not parked",
			receive: maxReceive,
			setup: func(fx *fixture) {
				fx.runs.seedStatus(theRun.Attempt+1, runs.Running)
				fx.runs.startErr = fault.Retryable(errors.New("runs table throttled"))
			},
			want: want{result: "nil", failClass: "retries-exhausted"},
		},
		{
			name:    "last receive of a fetch whose run FAILED already: parked, kept for a redrive",
			receive: maxReceive,
			setup: func(fx *fixture) {
				fx.runs.seedStatus(theRun.Attempt, runs.Failed)
				fx.runs.startErr = fault.Retryable(errors.New("runs table throttled"))
			},
			want: want{result: "parked", failClass: "retries-exhausted"},
		},
		{
			name:    "last receive, the runs table down for Fail too: parked, the run freed by its lease",
			receive: maxReceive,
			setup: func(fx *fixture) {
				fx.runs.startErr = fault.Retryable(errors.New("runs table throttled"))
				fx.runs.failErr = fault.Retryable(errors.New("runs table throttled"))
			},
			want: want{result: "parked", failClass: "retries-exhausted"},
		},
		{
			name:    "a failing Fail does not hide the error",
			receive: 1,
			setup: func(fx *fixture) {
				fx.pager.err = fault.Permanent(notFound)
				fx.runs.failErr = errors.New("dynamodb down")
			},
			want: want{result: "permanent", cause: notFound, failClass: "permanent", fetched: true},
		},
		{
			name:    "fenced at start: dropped, nothing fetched",
			receive: 1,
			setup: func(fx *fixture) {
				fx.runs.startErr = fmt.Errorf("start orders/2026-11-01 attempt 2: %w", runs.ErrFenced)
			},
			want: want{result: "nil"},
		},
		{
			name:    "fenced at start on the last receive: still dropped, no Fail",
			receive: maxReceive,
			setup: func(fx *fixture) {
				fx.runs.startErr = fmt.Errorf("start orders/2026-11-01 attempt 2: %w", runs.ErrFenced)
			},
			want: want{result: "nil"},
		},
		{
			name:    "runs table unavailable at start",
			receive: 1,
			setup:   func(fx *fixture) { fx.runs.startErr = fault.Retryable(errors.New("throttled")) },
			want:    want{result: "retry"},
		},
		{
			name:    "lease of a live try: come back when it ends, and don't yield the live try",
			receive: 2,
			setup: func(fx *fixture) {
				fx.runs.startErr = fault.RetryAfter(errors.New("attempt 2 of this fetch still holds the lease"), 40*time.Second)
			},
			want: want{result: "retry"},
		},
		{
			name:    "batch send failure is retried, no Done",
			receive: 1,
			setup:   func(fx *fixture) { fx.out.sendErr = fault.Retryable(errors.New("sqs unavailable")) },
			want:    want{result: "retry", fetched: true, yield: true},
		},
		{
			name:    "unknown source in the message",
			body:    []byte(`{"v":1,"kind":"fetch","source":"ghost","window":"2026-11-01","run_id":"r-7","attempt":2,"trigger":"schedule"}`),
			receive: 1,
			want:    want{result: "permanent", failClass: "permanent"},
		},
		{
			name:    "malformed message",
			body:    []byte(`{"v":1,"kind":"fetch","source":"orders"}`),
			receive: 1,
			want:    want{result: "permanent"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pages := tt.pages
			if pages == nil {
				pages = [][][]byte{records(9, 10)}
			}
			body := tt.body
			if body == nil {
				body = golden(t, "fetch.json")
			}
			fx := newFixture(t, pages)
			if tt.setup != nil {
				tt.setup(fx)
			}
			err := fx.handle(t, body, tt.receive)

			switch tt.want.result {
			case "nil":
				if err != nil {
					t.Fatalf("Handle = %v, want nil", err)
				}
			case "retry":
				if err == nil || fault.IsPermanent(err) {
					t.Fatalf("Handle = %v, want a retryable error", err)
				}
			case "permanent":
				if !fault.IsPermanent(err) || errors.Is(err, consumer.ErrRetriesExhausted) {
					t.Fatalf("Handle = %v, want a permanent error", err)
				}
			case "parked":
				if !fault.IsPermanent(err) || !errors.Is(err, consumer.ErrRetriesExhausted) {
					t.Fatalf("Handle = %v, want the consumer to park it: retries exhausted", err)
				}
			}
			if tt.want.cause != nil && !errors.Is(err, tt.want.cause) {
				t.Fatalf("Handle = %v, want it to wrap %v", err, tt.want.cause)
			}

			switch {
			case tt.want.failClass == "" && len(fx.runs.fails) > 0:
				t.Fatalf("Fail called %+v, want no Fail", fx.runs.fails)
			case tt.want.failClass != "":
				if len(fx.runs.fails) != 1 {
					t.Fatalf("Fail called %d times, want once", len(fx.runs.fails))
				}
				msg, derr := contracts.DecodeFetch(body)
				if derr != nil {
					t.Fatal(derr)
				}
				f := fx.runs.fails[0]
				// The run records the handler's error; a parked message's
				// says "retries exhausted on receive N: " before it.
				if f.run != msg.Run || f.class != tt.want.failClass || (err != nil && !strings.HasSuffix(err.Error(), f.msg)) {
					t.Fatalf("Fail(%+v, %q, %q), want Fail(%+v, %q, %v)", f.run, f.class, f.msg, msg.Run, tt.want.failClass, err)
				}
			}
			if fetched := fx.tr.count("fetch") > 0; fetched != tt.want.fetched {
				t.Fatalf("pager called: %v, want %v (calls %v)", fetched, tt.want.fetched, fx.tr.calls)
			}
			var done, stopped bool
			for i, m := range fx.out.json {
				switch m := m.(type) {
				case contracts.Done:
					done = true
				case contracts.Fetch:
					// The walk got its page before the error, which came
					// without a Retry-After: it goes on at once.
					stopped = m.Hop == 1 && fx.out.delays[i] == 0 && fx.tr.count("checkpoint") == 1
				}
			}
			if done != tt.want.done {
				t.Fatalf("Done sent: %v, want %v", done, tt.want.done)
			}
			if stopped != tt.want.stopped {
				t.Fatalf("stopped with a checkpoint and a continuation: %v, want %v (sent %+v, delays %v)", stopped, tt.want.stopped, fx.out.json, fx.out.delays)
			}
			if yielded := len(fx.runs.yields) > 0; yielded != tt.want.yield {
				t.Fatalf("yielded: %v, want %v", yielded, tt.want.yield)
			}
			if d, ok := fault.Delay(fx.runs.startErr); ok {
				if got, _ := fault.Delay(err); got != d {
					t.Fatalf("retry after %v, want the lease's %v", got, d)
				}
			}
		})
	}
}

func TestHandleKeepsTheLease(t *testing.T) {
	fenced := &runs.FencedError{Op: "heartbeat", Ref: theRun, Attempt: theRun.Attempt + 1, Status: runs.Running}
	tests := []struct {
		name         string
		heartbeatErr error
		leaseFor     time.Duration
		wantMin      int // heartbeats at least
		wantErr      string
		wantServed   int // pages processed
		wantDone     bool
	}{
		// 4 pages of 60ms, a heartbeat every 20ms: slow pages don't starve it.
		{name: "heartbeats while pages are slow", wantMin: 6, wantServed: 4, wantDone: true},
		{name: "fenced heartbeat stops the fetch and drops the message", heartbeatErr: fenced, wantMin: 1, wantServed: 0},
		{name: "lease running out unrenewed stops the fetch for a retry", heartbeatErr: fault.Retryablef("dynamodb: unreachable"),
			leaseFor: 50 * time.Millisecond, wantMin: 0, wantErr: "lease expired without a successful heartbeat", wantServed: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, paged(records(5, 40), 10))
			fx.h.heartbeat = 20 * time.Millisecond
			fx.pager.delay = 60 * time.Millisecond
			if tt.leaseFor != 0 {
				fx.runs = newRuns(t, fx.tr, tt.leaseFor)
				fx.h.runs = fx.runs
			}
			fx.runs.heartbeatErr = tt.heartbeatErr

			err := fx.handle(t, golden(t, "fetch.json"), 1)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Handle = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || fault.IsPermanent(err)):
				t.Fatalf("Handle = %v, want a retryable error saying %q", err, tt.wantErr)
			}
			if n := fx.runs.heartbeatCount(); n < tt.wantMin {
				t.Fatalf("%d heartbeats, want at least %d", n, tt.wantMin)
			}
			for _, r := range fx.runs.heartbeats {
				if r != theRun {
					t.Fatalf("heartbeat for %+v, want %+v", r, theRun)
				}
			}
			if fx.pager.served != tt.wantServed {
				t.Fatalf("%d pages processed, want %d", fx.pager.served, tt.wantServed)
			}
			if done := len(fx.out.json) > 0; done != tt.wantDone {
				t.Fatalf("Done sent: %v, want %v", done, tt.wantDone)
			}
			if !tt.wantDone && len(fx.out.batches) > 0 {
				t.Fatalf("%d batches sent after the lease was lost", len(fx.out.batches))
			}
			if len(fx.runs.fails) > 0 {
				t.Fatalf("Fail called %+v, want none", fx.runs.fails)
			}
		})
	}
}

// A redelivered fetch message restarts as the attempt Start hands back:
// every batch, the Done and a failure carry that attempt, never the
// message's.
func TestRestartWorksAsTheNewAttempt(t *testing.T) {
	fx := newFixture(t, paged(records(7, 600), 100))
	fx.runs.runningExpired()
	if err := fx.handle(t, golden(t, "fetch.json"), 2); err != nil {
		t.Fatal(err)
	}
	if len(fx.out.batches) == 0 {
		t.Fatal("no batches sent")
	}
	for _, body := range fx.out.batches {
		b, err := contracts.DecodeBatch(body)
		if err != nil {
			t.Fatal(err)
		}
		if b.Attempt != theRun.Attempt+1 {
			t.Fatalf("batch %d carries attempt %d, want %d", b.Seq, b.Attempt, theRun.Attempt+1)
		}
	}
	done, ok := fx.out.json[len(fx.out.json)-1].(contracts.Done)
	if !ok || done.Attempt != theRun.Attempt+1 {
		t.Fatalf("done = %+v, want attempt %d", fx.out.json[len(fx.out.json)-1], theRun.Attempt+1)
	}

	fx = newFixture(t, nil)
	fx.runs.runningExpired()
	fx.pager.err = fault.Permanentf("HTTP 401")
	if err := fx.handle(t, golden(t, "fetch.json"), 2); !fault.IsPermanent(err) {
		t.Fatalf("Handle = %v", err)
	}
	if len(fx.runs.fails) != 1 || fx.runs.fails[0].run.Attempt != theRun.Attempt+1 {
		t.Fatalf("fails = %+v, want one for attempt %d", fx.runs.fails, theRun.Attempt+1)
	}
}

// A fetch handed over after every page, across as many invocations as it
// has pages, sends what one uninterrupted fetch sends: the same records in
// the same order, batch numbers 0…n-1 once each, a Done with the same
// totals.
func TestContinuationMatchesOneUninterruptedFetch(t *testing.T) {
	pages := paged(records(40, 900), 100) // several batches' worth
	whole := newFixture(t, pages)
	if err := whole.handle(t, golden(t, "fetch.json"), 1); err != nil {
		t.Fatal(err)
	}
	wantDone := whole.out.json[len(whole.out.json)-1].(contracts.Done)

	fx := newFixture(t, pages)
	fx.h.handoff = handoff{After: time.Nanosecond}
	body := golden(t, "fetch.json")
	invocations := 0
	for {
		invocations++
		if invocations > len(pages)+1 {
			t.Fatal("the fetch never finished")
		}
		sent := len(fx.out.json)
		// Each invocation is handed its own message.
		if err := fx.handleAs(t, fmt.Sprintf("m-%d", invocations), body, 1); err != nil {
			t.Fatalf("invocation %d: %v", invocations, err)
		}
		if len(fx.out.json) != sent+1 {
			t.Fatalf("invocation %d sent %d messages, want one continuation or Done", invocations, len(fx.out.json)-sent)
		}
		next, ok := fx.out.json[sent].(contracts.Fetch)
		if !ok {
			break
		}
		if fx.out.urls[len(fx.out.urls)-1] != fetchURL || next.Hop != invocations || next.Run != theRun {
			t.Fatalf("continuation %+v to %s", next, fx.out.urls[len(fx.out.urls)-1])
		}
		if body, ok = mustJSON(t, next), true; !ok {
			t.Fatal("unreachable")
		}
	}
	if invocations != len(pages) {
		t.Fatalf("%d invocations for %d pages, want one per page", invocations, len(pages))
	}
	gotDone := fx.out.json[len(fx.out.json)-1].(contracts.Done)
	// Each hand-over flushes its last, partial batch: more batches, the
	// same records and bytes.
	if gotDone.Run != wantDone.Run || gotDone.Records != wantDone.Records || gotDone.Bytes != wantDone.Bytes || gotDone.Batches < wantDone.Batches {
		t.Fatalf("Done = %+v, want the records and bytes of one fetch %+v", gotDone, wantDone)
	}
	got, want := sentBatches(t, fx.out.batches), sentBatches(t, whole.out.batches)
	if len(got) < len(want) || len(got) != gotDone.Batches {
		t.Fatalf("%d batches sent, Done says %d (one fetch: %d)", len(got), gotDone.Batches, len(want))
	}
	var gotRecs, wantRecs [][]byte
	for i, b := range got {
		if b.Seq != i {
			t.Fatalf("batch %d has seq %d", i, b.Seq)
		}
		lines, err := pack.Lines(b)
		if err != nil {
			t.Fatal(err)
		}
		gotRecs = append(gotRecs, lines...)
	}
	for _, b := range want {
		lines, _ := pack.Lines(b)
		wantRecs = append(wantRecs, lines...)
	}
	if len(gotRecs) != len(wantRecs) {
		t.Fatalf("%d records over the hops, %d in one fetch", len(gotRecs), len(wantRecs))
	}
	for i := range gotRecs {
		if !bytes.Equal(gotRecs[i], wantRecs[i]) {
			t.Fatalf("record %d differs", i)
		}
	}
	// A continuation message taken twice is fenced: dropped, nothing sent.
	before := len(fx.out.batches) + len(fx.out.json)
	if err := fx.handleAs(t, "m-dup", mustJSON(t, contracts.NewContinuation(theRun, "schedule", 1)), 1); err != nil {
		t.Fatal(err)
	}
	if after := len(fx.out.batches) + len(fx.out.json); after != before {
		t.Fatalf("a stale continuation sent %d messages", after-before)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A fetch message whose redelivery restarted its run as the next attempt,
// and whose process then died (or stalled) holding that attempt's lease,
// is still the only message of its run: on its last delivery it is parked
// with its reason — never deleted as if a newer attempt had superseded it
// (that attempt is its own), and the run is left to its lease, which the
// scheduler's sweep takes up once it runs out. Found by the chaos rig: the
// input was left RUNNING with no message anywhere.
func TestLastDeliveryOfAMessageWhoseOwnRestartHoldsTheLease(t *testing.T) {
	fx := newFixture(t, paged(records(7, 50), 100))
	r, _ := fx.runs.Store.Get(context.Background(), theRun.Key())
	r.Attempt, r.Status, r.FetchMessage, r.Owner = theRun.Attempt+1, runs.Running, "m-1", "a-dead-fetcher"
	r.LeaseUntil = time.Now().Add(time.Hour).Unix()
	fx.runs.Store.Seed(r)

	err := fx.handle(t, golden(t, "fetch.json"), maxReceive)
	if !errors.Is(err, consumer.ErrRetriesExhausted) || !fault.IsPermanent(err) {
		t.Fatalf("Handle = %v, want the message parked (a permanent error wrapping ErrRetriesExhausted)", err)
	}
	if len(fx.runs.fails) != 0 {
		t.Fatalf("fails = %+v: the run of a held lease must be left to it", fx.runs.fails)
	}
	got, _ := fx.runs.Store.Get(context.Background(), theRun.Key())
	if got.Status != runs.Running || got.Attempt != theRun.Attempt+1 {
		t.Fatalf("run = %s attempt %d, want RUNNING attempt %d", got.Status, got.Attempt, theRun.Attempt+1)
	}
}
