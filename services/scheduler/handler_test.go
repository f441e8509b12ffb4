package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/pipeline"
)

const inputsURL = "https://sqs.test/sluice-inputs"

// The message ids of testdata/sqs-triggers.json.
const (
	goodTriggerID      = "2e1424d4-f796-459a-8184-9c92662be6da"
	malformedTriggerID = "c80e8021-a70a-42c7-a470-796e1186f753"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// demoPipeline has the daily sources customers, events and orders, in that
// order.
func demoPipeline(t *testing.T) *pipeline.Config {
	t.Helper()
	p, err := pipeline.Parse("demo.yaml", []byte(demoapi.PipelineYAML("http://api.test", nil)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// hourlyPipeline is demoPipeline with orders alone, partitioned by hour.
func hourlyPipeline(t *testing.T) *pipeline.Config {
	t.Helper()
	p, err := pipeline.Parse("hourly.yaml", []byte(strings.Replace(
		demoapi.PipelineYAML("http://api.test", []string{"orders"}), "every: day", "every: hour", 1)))
	if err != nil {
		t.Fatal(err)
	}
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

// keys returns "<source>/<window>" of each input.
func keys(inputs []contracts.Input) []string {
	out := make([]string, len(inputs))
	for i, in := range inputs {
		out[i] = in.Key()
	}
	return out
}

func TestExpand(t *testing.T) {
	tests := []struct {
		name          string
		hourly        bool
		trigger       contracts.Trigger
		want          []string
		wantPermanent string // substring of the permanent error, when one is expected
	}{
		{
			name:    "range of three days over every source, in config order",
			trigger: contracts.Trigger{From: day(2026, 11, 1), To: day(2026, 11, 4), Trigger: contracts.TriggerManual},
			want: []string{
				"customers/2026-11-01", "customers/2026-11-02", "customers/2026-11-03",
				"events/2026-11-01", "events/2026-11-02", "events/2026-11-03",
				"orders/2026-11-01", "orders/2026-11-02", "orders/2026-11-03",
			},
		},
		{
			name:    "named sources, in the order named",
			trigger: contracts.Trigger{Sources: []string{"orders", "customers"}, From: day(2026, 11, 1), To: day(2026, 11, 3), Trigger: contracts.TriggerManual},
			want:    []string{"orders/2026-11-01", "orders/2026-11-02", "customers/2026-11-01", "customers/2026-11-02"},
		},
		{
			name: "unaligned range covers every window it overlaps",
			trigger: contracts.Trigger{Sources: []string{"events"}, From: day(2026, 11, 1).Add(12 * time.Hour), To: day(2026, 11, 2).Add(6 * time.Hour),
				Trigger: contracts.TriggerManual},
			want: []string{"events/2026-11-01", "events/2026-11-02"},
		},
		{
			name:          "unknown source",
			trigger:       contracts.Trigger{Sources: []string{"orders", "ghost"}, From: day(2026, 11, 1), To: day(2026, 11, 2), Trigger: contracts.TriggerManual},
			wantPermanent: `unknown source "ghost"`,
		},
		{
			name:    "no range: latest complete day at 00:15",
			trigger: contracts.Trigger{At: day(2026, 11, 24).Add(15 * time.Minute), Trigger: contracts.TriggerSchedule},
			want:    []string{"customers/2026-11-23", "events/2026-11-23", "orders/2026-11-23"},
		},
		{
			name:    "no range: at midnight exactly, the day that just ended",
			trigger: contracts.Trigger{At: day(2026, 11, 24), Trigger: contracts.TriggerSchedule},
			want:    []string{"customers/2026-11-23", "events/2026-11-23", "orders/2026-11-23"},
		},
		{
			name:    "no range: a second before midnight, still the day before",
			trigger: contracts.Trigger{Sources: []string{"orders"}, At: day(2026, 11, 25).Add(-time.Second), Trigger: contracts.TriggerSchedule},
			want:    []string{"orders/2026-11-23"},
		},
		{
			name:    "no range: across a year end",
			trigger: contracts.Trigger{Sources: []string{"orders"}, At: day(2027, 1, 1).Add(time.Hour), Trigger: contracts.TriggerSchedule},
			want:    []string{"orders/2026-12-31"},
		},
		{
			name:    "no range, hourly: the hour that ended",
			hourly:  true,
			trigger: contracts.Trigger{At: day(2026, 11, 24).Add(15 * time.Minute), Trigger: contracts.TriggerSchedule},
			want:    []string{"orders/2026-11-23T23"},
		},
		{
			name:    "range, hourly",
			hourly:  true,
			trigger: contracts.Trigger{From: day(2026, 11, 1).Add(22 * time.Hour), To: day(2026, 11, 2).Add(time.Hour), Trigger: contracts.TriggerManual},
			want:    []string{"orders/2026-11-01T22", "orders/2026-11-01T23", "orders/2026-11-02T00"},
		},
		{
			name:          "too many inputs over every source",
			trigger:       contracts.Trigger{From: day(2000, 1, 1), To: day(2000, 1, 1).AddDate(0, 0, 3334), Trigger: contracts.TriggerManual},
			wantPermanent: "more than 10000 inputs",
		},
		{
			name:          "one input over the limit",
			trigger:       contracts.Trigger{Sources: []string{"orders"}, From: day(2000, 1, 1), To: day(2000, 1, 1).AddDate(0, 0, 10001), Trigger: contracts.TriggerManual},
			wantPermanent: "more than 10000 inputs",
		},
		{
			name:          "a mistyped year",
			hourly:        true,
			trigger:       contracts.Trigger{From: day(1026, 11, 1), To: day(2026, 11, 2), Trigger: contracts.TriggerManual},
			wantPermanent: "more than 10000 inputs",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := demoPipeline(t)
			if tt.hourly {
				p = hourlyPipeline(t)
			}
			if tt.trigger.At.IsZero() { // as publish does: now, long after every range here
				tt.trigger.At = day(2030, 1, 1)
			}
			got, err := expand(p, tt.trigger)
			if tt.wantPermanent != "" {
				if !fault.IsPermanent(err) || !strings.Contains(err.Error(), tt.wantPermanent) {
					t.Fatalf("expand = %d inputs, %v; want a permanent error saying %q", len(got), err, tt.wantPermanent)
				}
				return
			}
			if err != nil {
				t.Fatalf("expand: %v", err)
			}
			if !slices.Equal(keys(got), tt.want) {
				t.Fatalf("expand = %q, want %q", keys(got), tt.want)
			}
			for _, in := range got {
				if in.V != contracts.Version || in.Kind != contracts.KindInput || in.Trigger != tt.trigger.Trigger || in.Force != tt.trigger.Force {
					t.Fatalf("input %+v does not carry the trigger %q (force %v)", in, tt.trigger.Trigger, tt.trigger.Force)
				}
			}
		})
	}
}

func TestExpandAtTheLimit(t *testing.T) {
	got, err := expand(demoPipeline(t), contracts.Trigger{
		Sources: []string{"orders"}, From: day(2000, 1, 1), To: day(2000, 1, 1).AddDate(0, 0, maxInputsPerTrigger), Trigger: contracts.TriggerManual,
		At: day(2030, 1, 1),
	})
	if err != nil {
		t.Fatalf("expand at the limit: %v", err)
	}
	if len(got) != maxInputsPerTrigger || got[0].Window != "2000-01-01" || got[len(got)-1].Window != "2027-05-18" {
		t.Fatalf("expand = %d inputs from %s to %s", len(got), got[0].Window, got[len(got)-1].Window)
	}
}

// A range of a thousand years of hours must be refused without building
// its windows first.
func TestExpandRefusesAHugeRangeCheaply(t *testing.T) {
	p := hourlyPipeline(t)
	tr := contracts.Trigger{From: day(1000, 1, 1), To: day(9000, 1, 1), Trigger: contracts.TriggerManual}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := expand(p, tr)
	runtime.ReadMemStats(&after)
	if !fault.IsPermanent(err) {
		t.Fatalf("expand = %v, want a permanent error", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
		t.Fatalf("expand allocated %d MiB to refuse the trigger", alloc>>20)
	}
}

// fakeBatchSender keeps the bodies it is sent.
type fakeBatchSender struct {
	mu    sync.Mutex
	calls int
	urls  []string
	sent  [][]byte
	err   error
}

var _ batchSender = (*fakeBatchSender)(nil)

func (f *fakeBatchSender) SendBatch(_ context.Context, url string, bodies [][]byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.urls = append(f.urls, url)
	if f.err != nil {
		return f.err
	}
	for _, b := range bodies {
		f.sent = append(f.sent, bytes.Clone(b))
	}
	return nil
}

// inputs decodes what the sender got as the dedupe service would.
func (f *fakeBatchSender) inputs(t *testing.T) []contracts.Input {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]contracts.Input, len(f.sent))
	for i, b := range f.sent {
		in, err := contracts.DecodeInput(b)
		if err != nil {
			t.Fatalf("body %d %s: %v", i, b, err)
		}
		out[i] = in
	}
	return out
}

func newHandler(t *testing.T, out batchSender, now time.Time) *handler {
	return &handler{pipeline: demoPipeline(t), out: out, inputsURL: inputsURL, now: func() time.Time { return now }}
}

func TestHandle(t *testing.T) {
	sqsDown := fault.Retryable(errors.New("sqs: throttled"))
	tests := []struct {
		name      string
		body      []byte
		sendErr   error
		want      []string
		wantForce bool
		wantErr   string // "", "retry" or "permanent"
		reason    string // with wantErr: a substring of the error, when set
	}{
		{
			name:      "range trigger",
			body:      golden(t, "trigger.json"),
			want:      []string{"orders/2026-11-01", "orders/2026-11-02", "orders/2026-11-03", "customers/2026-11-01", "customers/2026-11-02", "customers/2026-11-03"},
			wantForce: true,
		},
		{
			name: "trigger without range or time covers the latest window now",
			body: []byte(`{"v":1,"kind":"trigger","trigger":"manual"}`),
			want: []string{"customers/2026-11-23", "events/2026-11-23", "orders/2026-11-23"},
		},
		{
			name: "trigger with its own time",
			body: []byte(`{"v":1,"kind":"trigger","sources":["events"],"at":"2026-11-02T10:00:00Z","trigger":"redrive"}`),
			want: []string{"events/2026-11-01"},
		},
		{
			name:    "range reaching today is refused whole",
			body:    []byte(`{"v":1,"kind":"trigger","sources":["orders"],"from":"2026-11-20T00:00:00Z","to":"2026-11-25T00:00:00Z","trigger":"manual"}`),
			wantErr: "permanent",
			reason:  "window not due yet: orders/2026-11-24",
		},
		{
			name:    "range of next year is refused",
			body:    []byte(`{"v":1,"kind":"trigger","from":"2027-11-20T00:00:00Z","to":"2027-11-21T00:00:00Z","trigger":"backfill"}`),
			wantErr: "permanent",
			reason:  "window not due yet: customers/2027-11-20",
		},
		{
			name:    "trigger with a time still to come is refused",
			body:    []byte(`{"v":1,"kind":"trigger","sources":["events"],"at":"2026-11-25T00:15:00Z","trigger":"manual"}`),
			wantErr: "permanent",
			reason:  "trigger at 2026-11-25T00:15:00Z, ahead of the scheduler's clock: window not due yet: events/2026-11-24",
		},
		{
			name: "trigger a moment ahead of the clock is published when its windows are due",
			body: []byte(`{"v":1,"kind":"trigger","sources":["events"],"at":"2026-11-24T00:15:01Z","trigger":"schedule"}`),
			want: []string{"events/2026-11-23"},
		},
		{
			name: "range ending with the last day that ended",
			body: []byte(`{"v":1,"kind":"trigger","sources":["orders"],"from":"2026-11-22T00:00:00Z","to":"2026-11-24T00:00:00Z","trigger":"manual","force":true}`),
			want: []string{"orders/2026-11-22", "orders/2026-11-23"}, wantForce: true,
		},
		{
			name:    "malformed trigger",
			body:    []byte(`{"v":1,"kind":"trigger","from":"2026-11-01T00:00:00Z","trigger":"manual"}`),
			wantErr: "permanent",
		},
		{
			name:    "unknown source",
			body:    []byte(`{"v":1,"kind":"trigger","sources":["ghost"],"trigger":"manual"}`),
			wantErr: "permanent",
		},
		{
			name:    "publish failure is retried",
			body:    golden(t, "trigger.json"),
			sendErr: sqsDown,
			wantErr: "retry",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := &fakeBatchSender{err: tt.sendErr}
			h := newHandler(t, out, day(2026, 11, 24).Add(15*time.Minute))
			err := h.Handle(context.Background(), consumer.Message{ID: "m-1", Body: tt.body, ReceiveCount: 1})
			switch tt.wantErr {
			case "":
				if err != nil {
					t.Fatalf("Handle = %v", err)
				}
			case "retry":
				if err == nil || fault.IsPermanent(err) || !errors.Is(err, tt.sendErr) {
					t.Fatalf("Handle = %v, want a retryable error wrapping %v", err, tt.sendErr)
				}
				return
			case "permanent":
				if !fault.IsPermanent(err) || !strings.Contains(err.Error(), tt.reason) {
					t.Fatalf("Handle = %v, want a permanent error saying %q", err, tt.reason)
				}
				if out.calls > 0 {
					t.Fatalf("published %d times, want nothing published", out.calls)
				}
				return
			}
			if out.calls != 1 || out.urls[0] != inputsURL {
				t.Fatalf("SendBatch called %d times (%v), want once to %s", out.calls, out.urls, inputsURL)
			}
			got := out.inputs(t)
			if !slices.Equal(keys(got), tt.want) {
				t.Fatalf("published %q, want %q", keys(got), tt.want)
			}
			// dedupe, one moment later, admits every input published.
			for _, in := range got {
				if _, _, err := h.pipeline.Admit(in.Source, in.Window, h.now()); err != nil {
					t.Fatalf("published %s, which dedupe refuses: %v", in.Key(), err)
				}
			}
			for _, in := range got {
				if in.Force != tt.wantForce {
					t.Fatalf("input %+v: force %v, want %v", in, in.Force, tt.wantForce)
				}
				// A forced trigger names itself by its message id, so that a
				// copy of it reruns nothing twice; a plain one needs no id.
				if wantID := map[bool]string{true: "m-1", false: ""}[tt.wantForce]; in.ForceID != wantID {
					t.Fatalf("input %+v: force id %q, want %q", in, in.ForceID, wantID)
				}
			}
		})
	}
}

// fakeSettler records what the Lambda transport parks and backs off.
type fakeSettler struct {
	mu       sync.Mutex
	parked   []string
	backoffs []string
}

var _ consumer.Settler = (*fakeSettler)(nil)

func (f *fakeSettler) Park(_ context.Context, m consumer.Message, cause error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !fault.IsPermanent(cause) {
		return errors.New("parking a retryable failure")
	}
	f.parked = append(f.parked, m.ID)
	return nil
}

func (f *fakeSettler) Hide(context.Context, consumer.Message, time.Duration) error { return nil }

func (f *fakeSettler) Backoff(_ context.Context, m consumer.Message, _ time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.backoffs = append(f.backoffs, m.ID)
	return nil
}

func TestLambdaHandler(t *testing.T) {
	// now is far from every event's time, so that using it shows.
	now := day(2030, 6, 15).Add(7 * time.Hour)
	tests := []struct {
		name         string
		event        []byte
		sendErr      error
		wantErr      bool
		wantLog      string // with wantErr: the one error line expected
		wantInputs   []string
		wantTrigger  string
		wantFailures []string // SQS events only
		wantParked   []string
		wantBackoffs []string
		wantSQS      bool
	}{
		{
			name:        "EventBridge scheduled event publishes the latest window at its time",
			event:       golden(t, "scheduled-event.json"),
			wantInputs:  []string{"customers/2026-11-23", "events/2026-11-23", "orders/2026-11-23"},
			wantTrigger: contracts.TriggerSchedule,
		},
		{
			name:        "EventBridge Scheduler event carrying a Trigger",
			event:       golden(t, "scheduler-trigger.json"),
			wantInputs:  []string{"events/2026-11-23"},
			wantTrigger: contracts.TriggerSchedule,
		},
		{
			name:    "scheduled event that cannot be published fails the invocation",
			event:   golden(t, "scheduled-event.json"),
			sendErr: fault.Retryable(errors.New("sqs: throttled")),
			wantErr: true,
			wantLog: "scheduled trigger failed",
		},
		{
			// Not "all sources, latest window": a schedule whose input is
			// wrong must be seen, not quietly widened.
			name:    "EventBridge Scheduler event carrying an invalid Trigger",
			event:   []byte(`{"v":1,"kind":"trigger","sources":["NOPE!"]}`),
			wantErr: true,
			wantLog: "event refused; nothing published",
		},
		{
			name:    "EventBridge Scheduler event carrying something else",
			event:   []byte(`{"hello":"world"}`),
			wantErr: true,
			wantLog: "event refused; nothing published",
		},
		{
			name:    "EventBridge event that is not a scheduled event",
			event:   []byte(`{"version":"0","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","time":"2026-11-24T00:15:00Z","detail":{}}`),
			wantErr: true,
			wantLog: "event refused; nothing published",
		},
		{
			name:        "SQS event: the good trigger is published, the malformed one parked",
			event:       golden(t, "sqs-triggers.json"),
			wantSQS:     true,
			wantInputs:  []string{"orders/2026-11-01", "orders/2026-11-02"},
			wantTrigger: contracts.TriggerManual,
			wantParked:  []string{malformedTriggerID},
		},
		{
			name:         "SQS event: a retryable failure is a batch item failure, the parked message is not",
			event:        golden(t, "sqs-triggers.json"),
			sendErr:      fault.Retryable(errors.New("sqs: throttled")),
			wantSQS:      true,
			wantFailures: []string{goodTriggerID},
			wantParked:   []string{malformedTriggerID},
			wantBackoffs: []string{goodTriggerID},
		},
		{
			name:    "undecodable event",
			event:   []byte(`["not", "an", "event"]`),
			wantErr: true,
			wantLog: "event refused; nothing published",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zapcore.DebugLevel)
			log := zap.New(core)
			out := &fakeBatchSender{err: tt.sendErr}
			h := newHandler(t, out, now)
			settler := &fakeSettler{}
			sqs := consumer.Lambda(log, h, settler, 2, 5, 0, nil)
			sqsCalled := false
			spy := func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
				sqsCalled = true
				return sqs(ctx, ev)
			}

			// Through aws-lambda-go's own decoding and encoding, as on Lambda.
			resp, err := lambda.NewHandler(consumer.LambdaEvents(log, spy, h.HandleEvent)).Invoke(context.Background(), tt.event)
			resp = bytes.Clone(resp)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Invoke = %s, want an error", resp)
				}
				failed := logs.FilterMessage("event failed").All()
				if tt.wantLog != "" && (len(failed) != 1 || logs.FilterLevelExact(zapcore.ErrorLevel).Len() != 1 ||
					!strings.HasPrefix(fmt.Sprint(failed[0].ContextMap()["error"]), tt.wantLog)) {
					t.Fatalf("the failure was not logged once as %q: %v", tt.wantLog, logs.All())
				}
				if tt.sendErr == nil && out.calls != 0 {
					t.Fatalf("published %d inputs for an event that was refused", len(out.sent))
				}
				return
			}
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			if sqsCalled != tt.wantSQS {
				t.Fatalf("SQS path taken: %v, want %v", sqsCalled, tt.wantSQS)
			}

			if tt.wantSQS {
				var r events.SQSEventResponse
				if err := json.Unmarshal(resp, &r); err != nil {
					t.Fatalf("response %s: %v", resp, err)
				}
				var failed []string
				for _, f := range r.BatchItemFailures {
					failed = append(failed, f.ItemIdentifier)
				}
				if !slices.Equal(failed, tt.wantFailures) {
					t.Fatalf("batch item failures = %q, want %q", failed, tt.wantFailures)
				}
				if !slices.Equal(settler.parked, tt.wantParked) || !slices.Equal(settler.backoffs, tt.wantBackoffs) {
					t.Fatalf("parked %q, backed off %q; want %q, %q", settler.parked, settler.backoffs, tt.wantParked, tt.wantBackoffs)
				}
			} else if string(resp) != `{"ok":true}` {
				t.Fatalf("response = %s, want {\"ok\":true}", resp)
			}

			got := out.inputs(t)
			if !slices.Equal(keys(got), tt.wantInputs) {
				t.Fatalf("published %q, want %q", keys(got), tt.wantInputs)
			}
			for _, in := range got {
				if in.Trigger != tt.wantTrigger {
					t.Fatalf("input %+v, want trigger %q", in, tt.wantTrigger)
				}
			}
		})
	}
}

// A scheduled trigger asks for the windows due at its time: each source's
// lookback latest windows that ended at least its lag ago.
func TestExpandHonoursLagAndLookback(t *testing.T) {
	yaml := strings.Replace(demoapi.PipelineYAML("http://api.test", []string{"orders"}), "every: day", "every: day\n      lag: 6h\n      lookback: 3", 1)
	p, err := pipeline.Parse("lag.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		at   time.Time
		want []string
	}{
		// At 05:00 yesterday is not due yet (it ended 5h ago, the lag is 6h).
		{day(2026, 11, 24).Add(5 * time.Hour), []string{"orders/2026-11-20", "orders/2026-11-21", "orders/2026-11-22"}},
		{day(2026, 11, 24).Add(6 * time.Hour), []string{"orders/2026-11-21", "orders/2026-11-22", "orders/2026-11-23"}},
	}
	for _, tt := range tests {
		got, err := expand(p, contracts.Trigger{V: contracts.Version, Kind: contracts.KindTrigger, Trigger: contracts.TriggerSchedule, At: tt.at})
		if err != nil || !slices.Equal(keys(got), tt.want) {
			t.Errorf("at %s: expand = %q, %v; want %q", tt.at.Format(time.RFC3339), keys(got), err, tt.want)
		}
	}
}
