package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/logging"
	"github.com/sluice-data/sluice/shared/metrics"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/runs/runstest"
)

const fetchURL = "https://sqs.test/sluice-fetch"

// claims records every claim and passes it to the in-memory run store,
// or fails it with err.
type claims struct {
	*runstest.Store
	mu   sync.Mutex
	reqs []runs.ClaimRequest
	err  error
}

var _ claimer = (*claims)(nil)

func (c *claims) Claim(ctx context.Context, req runs.ClaimRequest) (runs.Run, error) {
	c.mu.Lock()
	c.reqs = append(c.reqs, req)
	c.mu.Unlock()
	if c.err != nil {
		return runs.Run{}, c.err
	}
	return c.Store.Claim(ctx, req)
}

// now is the clock of the handler and the run store in these tests.
var now = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)

func clock() time.Time { return now }

func newClaims(err error) *claims {
	return &claims{Store: runstest.New(runs.Config{Lease: 15 * time.Minute}, func() time.Time { return now }), err: err}
}

type sent struct {
	url string
	v   any
}

// fakeSender records every message it is asked to send, failing with err.
type fakeSender struct {
	mu   sync.Mutex
	sent []sent
	err  error
}

var _ sender = (*fakeSender)(nil)

func (f *fakeSender) SendJSON(_ context.Context, url string, v any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, sent{url, v})
	return f.err
}

// testPipeline is the demo pipeline, in which the first window of events
// is 2026-11-10.
func testPipeline(t *testing.T) *pipeline.Config {
	t.Helper()
	p, err := pipeline.Parse("demo.yaml", []byte(demoapi.PipelineYAML("http://api.test", nil)))
	if err != nil {
		t.Fatal(err)
	}
	events, ok := p.Source("events")
	if !ok {
		t.Fatal("the demo pipeline has no events source")
	}
	events.Partition.Start = time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)
	return p
}

func golden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// heldBy claims orders/2026-11-01 for another message, whose live lease
// then holds it.
func heldBy(t *testing.T, c *claims) {
	t.Helper()
	if _, err := c.Store.Claim(context.Background(), runs.ClaimRequest{Source: "orders", Window: "2026-11-01", Trigger: "schedule", MessageID: "m-0"}); err != nil {
		t.Fatal(err)
	}
}

type outcome int

const (
	ok        outcome = iota // nil: acknowledged
	retry                    // an error that is not permanent: redelivered
	permanent                // a permanent error: parked
)

func (o outcome) check(t *testing.T, err error) {
	t.Helper()
	switch {
	case o == ok && err != nil:
		t.Fatalf("Handle = %v, want nil", err)
	case o == retry && (err == nil || fault.IsPermanent(err)):
		t.Fatalf("Handle = %v (permanent %v), want a retryable error", err, fault.IsPermanent(err))
	case o == permanent && !fault.IsPermanent(err):
		t.Fatalf("Handle = %v, want a permanent error", err)
	}
}

func TestHandle(t *testing.T) {
	storeDown := errors.New("dynamodb: throttled")
	sendDown := fault.Retryable(errors.New("sqs: connection reset"))
	lost := &runs.ClaimLostError{Input: "orders/2026-11-01", Status: runs.Running, Attempt: 2, Until: now}

	tests := []struct {
		name       string
		body       []byte
		setup      func(*testing.T, *claims)
		claimErr   error
		sendErr    error
		want       outcome
		wantCause  error  // errors.Is target, when set
		wantReason string // substring of the error, when set
		wantClaim  *runs.ClaimRequest
		wantFetch  *contracts.Fetch
	}{
		{
			name:      "valid input is claimed and handed to the fetcher",
			body:      golden(t, "input.json"),
			want:      ok,
			wantClaim: &runs.ClaimRequest{Source: "orders", Window: "2026-11-01", Trigger: "manual", Force: true, MessageID: "m-1", ForceID: "m-1"},
			wantFetch: &contracts.Fetch{V: 1, Kind: "fetch", Run: contracts.Run{Source: "orders", Window: "2026-11-01"}, Trigger: "manual"},
		},
		{
			name:      "forced input keeps the force id it carries",
			body:      []byte(`{"v":1,"kind":"input","source":"orders","window":"2026-11-01","trigger":"schedule","force":true,"force_id":"trigger-9"}`),
			want:      ok,
			wantClaim: &runs.ClaimRequest{Source: "orders", Window: "2026-11-01", Trigger: "schedule", Force: true, MessageID: "m-1", ForceID: "trigger-9"},
			wantFetch: &contracts.Fetch{V: 1, Kind: "fetch", Run: contracts.Run{Source: "orders", Window: "2026-11-01"}, Trigger: "schedule"},
		},
		{
			name:      "unforced schedule trigger",
			body:      []byte(`{"v":1,"kind":"input","source":"customers","window":"2026-11-23","trigger":"schedule"}`),
			want:      ok,
			wantClaim: &runs.ClaimRequest{Source: "customers", Window: "2026-11-23", Trigger: "schedule", MessageID: "m-1"},
			wantFetch: &contracts.Fetch{V: 1, Kind: "fetch", Run: contracts.Run{Source: "customers", Window: "2026-11-23"}, Trigger: "schedule"},
		},
		{
			name:      "lost claim drops the duplicate",
			body:      golden(t, "input.json"),
			setup:     heldBy,
			want:      ok,
			wantClaim: &runs.ClaimRequest{Source: "orders", Window: "2026-11-01", Trigger: "manual", Force: true, MessageID: "m-1", ForceID: "m-1"},
		},
		{
			name: "redelivered input gets its own claim back and is handed on again",
			body: golden(t, "input.json"),
			setup: func(t *testing.T, c *claims) {
				if _, err := c.Store.Claim(context.Background(), runs.ClaimRequest{Source: "orders", Window: "2026-11-01", Trigger: "manual", Force: true, MessageID: "m-1", ForceID: "m-1"}); err != nil {
					t.Fatal(err)
				}
			},
			want:      ok,
			wantClaim: &runs.ClaimRequest{Source: "orders", Window: "2026-11-01", Trigger: "manual", Force: true, MessageID: "m-1", ForceID: "m-1"},
			wantFetch: &contracts.Fetch{V: 1, Kind: "fetch", Run: contracts.Run{Source: "orders", Window: "2026-11-01"}, Trigger: "manual"},
		},
		{
			name:      "lost claim wrapped by the store is still dropped",
			body:      golden(t, "input.json"),
			claimErr:  fmt.Errorf("conditional update: %w", lost),
			want:      ok,
			wantClaim: &runs.ClaimRequest{Source: "orders", Window: "2026-11-01", Trigger: "manual", Force: true, MessageID: "m-1", ForceID: "m-1"},
		},
		{
			name: "a take-up's input over a run the budget FAILED is dropped, the run left FAILED",
			body: []byte(`{"v":1,"kind":"input","source":"orders","window":"2026-11-01","trigger":"schedule","takeup":true}`),
			setup: func(t *testing.T, c *claims) {
				r, err := c.Store.Claim(context.Background(), runs.ClaimRequest{Source: "orders", Window: "2026-11-01", Trigger: "schedule", MessageID: "m-0"})
				if err != nil {
					t.Fatal(err)
				}
				if err := c.Store.Fail(context.Background(), r.Ref(), runs.ClassCrashed, "the worker died 4 times"); err != nil {
					t.Fatal(err)
				}
			},
			want:      ok,
			wantClaim: &runs.ClaimRequest{Source: "orders", Window: "2026-11-01", Trigger: "schedule", MessageID: "m-1", TakeUp: true},
		},
		{
			name:      "the window that ended last is claimed",
			body:      []byte(`{"v":1,"kind":"input","source":"orders","window":"2026-11-23","trigger":"manual"}`),
			want:      ok,
			wantClaim: &runs.ClaimRequest{Source: "orders", Window: "2026-11-23", Trigger: "manual", MessageID: "m-1"},
			wantFetch: &contracts.Fetch{V: 1, Kind: "fetch", Run: contracts.Run{Source: "orders", Window: "2026-11-23"}, Trigger: "manual"},
		},
		{
			name: "forced input of a window that SUCCEEDED reruns it",
			body: golden(t, "input.json"),
			setup: func(t *testing.T, c *claims) {
				ctx := context.Background()
				r, err := c.Store.Claim(ctx, runs.ClaimRequest{Source: "orders", Window: "2026-11-01", Trigger: "schedule", MessageID: "m-0"})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.Store.Start(ctx, r.Ref(), "f-0"); err != nil {
					t.Fatal(err)
				}
				if _, err := c.Store.SetTotals(ctx, r.Ref(), 0, 0, 0); err != nil {
					t.Fatal(err)
				}
				if _, _, err := c.Store.BeginCommit(ctx, r.Ref()); err != nil {
					t.Fatal(err)
				}
				if _, err := c.Store.FinishCommit(ctx, r.Ref(), 0); err != nil {
					t.Fatal(err)
				}
			},
			want:      ok,
			wantClaim: &runs.ClaimRequest{Source: "orders", Window: "2026-11-01", Trigger: "manual", Force: true, MessageID: "m-1", ForceID: "m-1"},
			wantFetch: &contracts.Fetch{V: 1, Kind: "fetch", Run: contracts.Run{Source: "orders", Window: "2026-11-01"}, Trigger: "manual"},
		},
		{
			name:      "the first window of a source with a start is claimed",
			body:      []byte(`{"v":1,"kind":"input","source":"events","window":"2026-11-10","trigger":"manual"}`),
			want:      ok,
			wantClaim: &runs.ClaimRequest{Source: "events", Window: "2026-11-10", Trigger: "manual", MessageID: "m-1"},
			wantFetch: &contracts.Fetch{V: 1, Kind: "fetch", Run: contracts.Run{Source: "events", Window: "2026-11-10"}, Trigger: "manual"},
		},
		{
			name:       "today's window is permanent, not claimed",
			body:       []byte(`{"v":1,"kind":"input","source":"orders","window":"2026-11-24","trigger":"manual","force":true}`),
			want:       permanent,
			wantCause:  pipeline.ErrNotDue,
			wantReason: "orders/2026-11-24 ends 2026-11-25T00:00:00Z and can be fetched from 2026-11-25T00:00:00Z",
		},
		{
			name:       "next year's window is permanent, not claimed",
			body:       []byte(`{"v":1,"kind":"input","source":"orders","window":"2027-11-23","trigger":"schedule"}`),
			want:       permanent,
			wantCause:  pipeline.ErrNotDue,
			wantReason: "window not due yet: orders/2027-11-23",
		},
		{
			name:       "a window before the source's start is permanent, not claimed",
			body:       []byte(`{"v":1,"kind":"input","source":"events","window":"2026-11-09","trigger":"manual"}`),
			want:       permanent,
			wantCause:  pipeline.ErrBeforeStart,
			wantReason: "events/2026-11-09 is before the source's first window 2026-11-10 (partition.start)",
		},
		{
			name: "unknown source is permanent",
			body: []byte(`{"v":1,"kind":"input","source":"ghost","window":"2026-11-01","trigger":"manual"}`),
			want: permanent,
		},
		{
			name: "hour window for a daily partition is permanent",
			body: []byte(`{"v":1,"kind":"input","source":"orders","window":"2026-11-01T13","trigger":"manual"}`),
			want: permanent,
		},
		{
			name: "impossible date is permanent",
			body: []byte(`{"v":1,"kind":"input","source":"orders","window":"2026-02-30","trigger":"manual"}`),
			want: permanent,
		},
		{
			name: "malformed JSON is permanent",
			body: []byte(`{"v":1,"kind":"input","source":"orders"`),
			want: permanent,
		},
		{
			name: "unknown version is permanent",
			body: []byte(`{"v":2,"kind":"input","source":"orders","window":"2026-11-01","trigger":"manual"}`),
			want: permanent,
		},
		{
			name: "another kind of message is permanent",
			body: []byte(`{"v":1,"kind":"fetch","source":"orders","window":"2026-11-01","run_id":"r","attempt":1,"trigger":"manual"}`),
			want: permanent,
		},
		{
			name:      "claim store error is retried",
			body:      golden(t, "input.json"),
			claimErr:  storeDown,
			want:      retry,
			wantCause: storeDown,
			wantClaim: &runs.ClaimRequest{Source: "orders", Window: "2026-11-01", Trigger: "manual", Force: true, MessageID: "m-1", ForceID: "m-1"},
		},
		{
			name:      "send failure is retried after the claim",
			body:      golden(t, "input.json"),
			sendErr:   sendDown,
			want:      retry,
			wantCause: sendDown,
			wantClaim: &runs.ClaimRequest{Source: "orders", Window: "2026-11-01", Trigger: "manual", Force: true, MessageID: "m-1", ForceID: "m-1"},
			wantFetch: &contracts.Fetch{V: 1, Kind: "fetch", Run: contracts.Run{Source: "orders", Window: "2026-11-01"}, Trigger: "manual"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClaims(tt.claimErr)
			if tt.setup != nil {
				tt.setup(t, c)
			}
			s := &fakeSender{err: tt.sendErr}
			h := &handler{pipeline: testPipeline(t), runs: c, floors: &floorsAt{}, out: s, fetchURL: fetchURL, now: clock}

			err := h.Handle(context.Background(), consumer.Message{ID: "m-1", Body: tt.body, ReceiveCount: 1})
			tt.want.check(t, err)
			if tt.wantCause != nil && !errors.Is(err, tt.wantCause) {
				t.Fatalf("Handle = %v, want it to wrap %v", err, tt.wantCause)
			}
			if tt.wantReason != "" && !strings.Contains(err.Error(), tt.wantReason) {
				t.Fatalf("Handle = %v, want it to say %q", err, tt.wantReason)
			}

			switch {
			case tt.wantClaim == nil && len(c.reqs) > 0:
				t.Fatalf("claimed %+v, want no claim", c.reqs)
			case tt.wantClaim != nil && (len(c.reqs) != 1 || c.reqs[0] != *tt.wantClaim):
				t.Fatalf("claims = %+v, want exactly %+v", c.reqs, *tt.wantClaim)
			}

			if tt.wantFetch == nil {
				if len(s.sent) > 0 {
					t.Fatalf("sent %+v, want nothing", s.sent)
				}
				return
			}
			if len(s.sent) != 1 {
				t.Fatalf("sent %d messages, want 1 Fetch", len(s.sent))
			}
			if s.sent[0].url != fetchURL {
				t.Fatalf("sent to %q, want %q", s.sent[0].url, fetchURL)
			}
			// What goes on the wire must be a Fetch the fetcher accepts.
			body, err := json.Marshal(s.sent[0].v)
			if err != nil {
				t.Fatal(err)
			}
			got, err := contracts.DecodeFetch(body)
			if err != nil {
				t.Fatalf("sent body %s does not decode as a Fetch: %v", body, err)
			}
			// It carries the run the store holds for the input.
			held, err := c.Get(context.Background(), tt.wantFetch.Key())
			if err != nil || held.Status != runs.Claimed || held.ClaimMessage != "m-1" {
				t.Fatalf("run of %s = %+v, %v; want CLAIMED by m-1", tt.wantFetch.Key(), held, err)
			}
			want := *tt.wantFetch
			want.RunID, want.Attempt = held.RunID, held.Attempt
			if got != want {
				t.Fatalf("sent %+v, want %+v", got, want)
			}
		})
	}
}

func TestHandleLogs(t *testing.T) {
	tests := []struct {
		name       string
		body       string // the message (default testdata/input.json, forced)
		claimErr   error
		wantMsg    string
		want       map[string]any
		wantAbsent []string // fields the line must not carry
		wantReason string   // substring of the "reason" field, when set
	}{
		{
			name:    "claimed carries the input and the run",
			wantMsg: "claimed",
			want: map[string]any{
				logging.FieldInput: "orders/2026-11-01", logging.FieldAttempt: int64(1),
				"trigger": "manual", "lease_until": now.Add(15 * time.Minute),
			},
		},
		{
			name:     "lost claim says who holds the input",
			claimErr: &runs.ClaimLostError{Input: "orders/2026-11-01", Status: runs.Running, Attempt: 2, Until: now.Add(time.Minute)},
			wantMsg:  "claim lost; duplicate dropped",
			// and, as metrics of the service, one duplicate dropped
			want:       map[string]any{logging.FieldInput: "orders/2026-11-01", "DuplicatesDropped": float64(1), metrics.DimService: "dedupe"},
			wantAbsent: []string{"AlreadySucceeded"},
			wantReason: "held by attempt 2 (RUNNING)",
		},
		{
			// What lookback's re-asks of finished windows find on every
			// scheduled trigger: not a duplicate.
			name:       "an input already SUCCEEDED is counted apart",
			body:       `{"v":1,"kind":"input","source":"orders","window":"2026-11-01","trigger":"schedule"}`,
			claimErr:   &runs.ClaimLostError{Input: "orders/2026-11-01", Status: runs.Succeeded, Attempt: 2},
			wantMsg:    "claim lost; duplicate dropped",
			want:       map[string]any{logging.FieldInput: "orders/2026-11-01", "AlreadySucceeded": float64(1), metrics.DimService: "dedupe"},
			wantAbsent: []string{"DuplicatesDropped"},
			wantReason: "already SUCCEEDED by attempt 2",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zapcore.DebugLevel)
			ctx, _ := logging.WithScope(context.Background(), zap.New(core))
			h := &handler{pipeline: testPipeline(t), runs: newClaims(tt.claimErr), floors: &floorsAt{}, out: &fakeSender{}, fetchURL: fetchURL, now: clock,
				metrics: metrics.New("Sluice", "dedupe")}

			body := golden(t, "input.json")
			if tt.body != "" {
				body = []byte(tt.body)
			}
			if err := h.Handle(ctx, consumer.Message{ID: "m-1", Body: body, ReceiveCount: 1}); err != nil {
				t.Fatal(err)
			}
			lines := logs.FilterMessage(tt.wantMsg).All()
			if len(lines) != 1 {
				t.Fatalf("%d %q lines in %v, want 1", len(lines), tt.wantMsg, logs.All())
			}
			fields := lines[0].ContextMap()
			for k, want := range tt.want {
				if got := fields[k]; got != want {
					t.Errorf("field %s = %#v, want %#v", k, got, want)
				}
			}
			for _, k := range tt.wantAbsent {
				if got, ok := fields[k]; ok {
					t.Errorf("field %s = %#v, want none", k, got)
				}
			}
			if reason, _ := fields["reason"].(string); !strings.Contains(reason, tt.wantReason) {
				t.Errorf("reason = %q, want it to contain %q", reason, tt.wantReason)
			}
			if tt.claimErr != nil {
				if _, ok := fields[logging.FieldRunID]; ok {
					t.Errorf("a lost claim logged run_id %v of a run it does not own", fields[logging.FieldRunID])
				}
			}
		})
	}
}

// A lost claim counts once, as the catalog says: AlreadySucceeded when
// the window SUCCEEDED and the input does not ask for a rerun (not
// forced), DuplicatesDropped for every other loss — an attempt holds the
// input, a forced request's copy after that request reran it, a take-up
// the run no longer needs. The run store decides the loss.
func TestLostClaimMetric(t *testing.T) {
	live, expired := now.Add(time.Minute).Unix(), now.Add(-time.Minute).Unix()
	tests := []struct {
		name  string
		input string // the Input's fields after source, window, trigger
		run   runs.Run
		want  string
	}{
		{"plain, held by a running attempt", ``, runs.Run{Status: runs.Running, LeaseUntil: live}, "DuplicatesDropped"},
		{"plain, already SUCCEEDED (lookback)", ``, runs.Run{Status: runs.Succeeded}, "AlreadySucceeded"},
		{"forced, held by a running attempt", `,"force":true,"force_id":"f-1"`, runs.Run{Status: runs.Running, LeaseUntil: live}, "DuplicatesDropped"},
		{"forced, its own request already reran it", `,"force":true,"force_id":"f-1"`, runs.Run{Status: runs.Succeeded, ForceID: "f-1"}, "DuplicatesDropped"},
		{"take-up, the run SUCCEEDED meanwhile", `,"takeup":true`, runs.Run{Status: runs.Succeeded}, "AlreadySucceeded"},
		{"take-up, the run FAILED (take-up budget)", `,"takeup":true`, runs.Run{Status: runs.Failed}, "DuplicatesDropped"},
		{"take-up, the run CLAIMED (its Fetch queued)", `,"takeup":true`, runs.Run{Status: runs.Claimed, LeaseUntil: expired}, "DuplicatesDropped"},
		{"take-up, the fetch is done (the writer's)", `,"takeup":true`, runs.Run{Status: runs.Running, LeaseUntil: expired, Fetched: true}, "DuplicatesDropped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClaims(nil)
			run := tt.run
			run.Input, run.Source, run.Window, run.Attempt, run.RunID, run.ClaimMessage = "orders/2026-11-01", "orders", "2026-11-01", 1, "r-1", "m-0"
			c.Seed(run)
			core, logs := observer.New(zapcore.DebugLevel)
			ctx, _ := logging.WithScope(context.Background(), zap.New(core))
			h := &handler{pipeline: testPipeline(t), runs: c, floors: &floorsAt{}, out: &fakeSender{}, fetchURL: fetchURL, now: clock,
				metrics: metrics.New("Sluice", "dedupe")}

			body := `{"v":1,"kind":"input","source":"orders","window":"2026-11-01","trigger":"schedule"` + tt.input + `}`
			if err := h.Handle(ctx, consumer.Message{ID: "m-1", Body: []byte(body), ReceiveCount: 1}); err != nil {
				t.Fatal(err)
			}
			lines := logs.FilterMessage("claim lost; duplicate dropped").All()
			if len(lines) != 1 {
				t.Fatalf("%d lost-claim lines in %v, want 1", len(lines), logs.All())
			}
			fields := lines[0].ContextMap()
			for _, name := range []string{"DuplicatesDropped", "AlreadySucceeded"} {
				got, ok := fields[name]
				switch {
				case name == tt.want && got != float64(1):
					t.Errorf("%s = %#v, want 1 (reason %v)", name, got, fields["reason"])
				case name != tt.want && ok:
					t.Errorf("%s = %#v, want none: the loss is %s (reason %v)", name, got, tt.want, fields["reason"])
				}
			}
		})
	}
}
