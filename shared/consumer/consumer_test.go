package consumer

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/logging"
)

type fakeSettler struct {
	mu       sync.Mutex
	parked   []string
	backoffs []string
	parkErr  error
}

func (f *fakeSettler) Park(_ context.Context, m Message, cause error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.parkErr != nil {
		return f.parkErr
	}
	f.parked = append(f.parked, m.ID+": "+cause.Error())
	return nil
}

func (f *fakeSettler) Hide(context.Context, Message, time.Duration) error { return nil }

func (f *fakeSettler) Backoff(_ context.Context, m Message, _ time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.backoffs = append(f.backoffs, m.ID)
	return nil
}

// byBody fails or succeeds according to the message body.
var byBody = HandlerFunc(func(ctx context.Context, m Message) error {
	logging.Annotate(ctx, zap.String(logging.FieldRunID, "run-"+m.ID))
	switch string(m.Body) {
	case "ok":
		return nil
	case "bad":
		return fault.Permanentf("malformed")
	case "flaky":
		return errors.New("connection reset")
	case "panic":
		var m map[string]int
		m["x"] = 1 // nil map write
	}
	return nil
})

func TestLambdaPartialBatch(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	settler := &fakeSettler{}
	h := Lambda(zap.New(core), byBody, settler, 3, 5, 0, nil)

	ev := events.SQSEvent{}
	for _, b := range []string{"ok", "bad", "flaky", "panic", "ok"} {
		id := b + "-" + string(rune('a'+len(ev.Records)))
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: id, Body: b, Attributes: map[string]string{"ApproximateReceiveCount": "2"}})
	}
	resp, err := h(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	if !slices.Equal(failed, []string{"flaky-c"}) {
		t.Fatalf("batch item failures = %v, want only the retryable one", failed)
	}
	slices.Sort(settler.parked)
	if len(settler.parked) != 2 || !strings.HasPrefix(settler.parked[0], "bad-b: malformed") || !strings.Contains(settler.parked[1], "handler panicked") {
		t.Fatalf("parked = %v", settler.parked)
	}
	if !slices.Equal(settler.backoffs, []string{"flaky-c"}) {
		t.Fatalf("backoffs = %v", settler.backoffs)
	}
	// One outcome line per message that failed, each with the handler's fields.
	for _, e := range logs.FilterMessageSnippet("message failed").All() {
		m := e.ContextMap()
		if m[logging.FieldRunID] == nil || m[logging.FieldMessageID] == nil || m[logging.FieldReceive] != int64(2) {
			t.Fatalf("outcome line lacks scope fields: %v", m)
		}
	}
	if n := logs.FilterMessageSnippet("message failed").Len(); n != 3 {
		t.Fatalf("%d failure lines, want 3", n)
	}
}

func TestProcessOutcomes(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		parkErr error
		want    Outcome
	}{
		{"success is done", "ok", nil, Done},
		{"permanent is parked", "bad", nil, Parked},
		{"retryable is retried", "flaky", nil, Retry},
		{"panic is parked", "panic", nil, Parked},
		{"permanent that cannot be parked is retried", "bad", errors.New("sqs down"), Retry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := Process(context.Background(), zap.NewNop(), byBody, &fakeSettler{parkErr: tt.parkErr}, Message{ID: "m", Body: []byte(tt.body)})
			if got != tt.want {
				t.Fatalf("outcome = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRetryDelay(t *testing.T) {
	const base, max = 2 * time.Second, time.Minute
	tests := []struct {
		receives int
		min, max time.Duration
	}{
		{0, 2 * time.Second, 2 * time.Second}, // as the first receive
		{1, 2 * time.Second, 2 * time.Second}, // up to 20% jitter, in whole seconds
		{2, 4 * time.Second, 4 * time.Second},
		{3, 8 * time.Second, 9 * time.Second},
		{5, 32 * time.Second, 38 * time.Second},
		{6, 60 * time.Second, 60 * time.Second}, // 64s is over the cap, with or without jitter
		{10, 60 * time.Second, 60 * time.Second},
		{1000, 60 * time.Second, 60 * time.Second},
	}
	for _, tt := range tests {
		for range 50 {
			d := RetryDelay(base, max, tt.receives)
			if d < tt.min || d > tt.max || d%time.Second != 0 {
				t.Fatalf("RetryDelay(receives=%d) = %v, want whole seconds in [%v, %v]", tt.receives, d, tt.min, tt.max)
			}
		}
	}
	// Jitter never takes a delay over the cap, near it or at it.
	for receives := 1; receives <= 20; receives++ {
		for range 50 {
			if d := RetryDelay(base, 9*time.Second, receives); d > 9*time.Second {
				t.Fatalf("RetryDelay(receives=%d, max=9s) = %v, over the cap", receives, d)
			}
		}
	}
}

// A handler error can quote a whole payload (a decode error citing a
// bogus 900 KB field); the outcome line must carry only its start.
func TestProcessTruncatesLoggedErrors(t *testing.T) {
	huge := strings.Repeat("x", 900<<10)
	tests := []struct {
		name    string
		err     error
		parkErr error
		msg     string
		fields  []string
	}{
		{"retried", errors.New("decode: bogus value " + huge), nil, "message failed; left for redelivery", []string{"error"}},
		{"parked", fault.Permanentf("decode: bogus value %s", huge), nil, "message failed permanently; parked in the DLQ", []string{"error"}},
		{"not parked", fault.Permanentf("decode: bogus value %s", huge), errors.New("sqs: message too long: " + huge),
			"message failed permanently but could not be parked in the DLQ; left for redelivery", []string{"error", "park_error"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zap.DebugLevel)
			h := HandlerFunc(func(context.Context, Message) error { return tt.err })
			Process(context.Background(), zap.New(core), h, &fakeSettler{parkErr: tt.parkErr}, Message{ID: "m", Body: []byte("{}")})
			lines := logs.FilterMessage(tt.msg).All()
			if len(lines) != 1 {
				t.Fatalf("%d lines %q, want 1; logged: %v", len(lines), tt.msg, logs.All())
			}
			m := lines[0].ContextMap()
			for _, f := range tt.fields {
				s, ok := m[f].(string)
				if !ok || !strings.HasPrefix(s, "decode: bogus value xxx") && !strings.HasPrefix(s, "sqs: message too long: xxx") {
					t.Fatalf("field %q = %.80v, want the start of the error as a string", f, m[f])
				}
				if len(s) > maxLoggedError+32 {
					t.Fatalf("field %q is %d bytes, want at most about %d", f, len(s), maxLoggedError)
				}
			}
		})
	}
}

// Lambda kills an invocation at its deadline, and with it the partial batch
// response: every message of the batch would be redelivered, finished ones
// included. Handlers must be stopped early enough for the answer to leave.
// A handler still running after the answer sets no retry delay (its
// message was reported failed), but a permanent failure is still parked:
// its run may have been given up on, and its redelivery would then be
// dropped with nothing left to keep the message. (Fake time: synctest.)
func TestLambdaAnswersBeforeTheDeadline(t *testing.T) {
	tests := []struct {
		name string
		slow HandlerFunc
		// wantBackoffs: retries settled before the answer.
		wantBackoffs []string
		wantParked   []string
	}{
		{"handler that stops when its context ends", func(ctx context.Context, _ Message) error {
			<-ctx.Done()
			return ctx.Err()
		}, []string{"slow"}, nil},
		{"handler that ignores its context", func(context.Context, Message) error {
			time.Sleep(10 * time.Second)
			return nil
		}, nil, nil},
		{"handler that ignores its context, then fails permanently", func(context.Context, Message) error {
			time.Sleep(10 * time.Second)
			return fault.Permanentf("parked after the answer")
		}, nil, []string{"slow: parked after the answer"}},
		{"handler that ignores its context, then fails", func(context.Context, Message) error {
			time.Sleep(10 * time.Second)
			return errors.New("too late to back off")
		}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := HandlerFunc(func(ctx context.Context, m Message) error {
					if string(m.Body) == "slow" {
						return tt.slow(ctx, m)
					}
					return nil
				})
				settler := &fakeSettler{}
				// One worker: "late" can only start once "slow" is over.
				fn := Lambda(zap.NewNop(), h, settler, 1, 5, 0, nil)
				ev := events.SQSEvent{Records: []events.SQSMessage{
					{MessageId: "ok", Body: "ok"}, {MessageId: "slow", Body: "slow"}, {MessageId: "late", Body: "ok"},
				}}
				deadline := time.Now().Add(3 * time.Second)
				ctx, cancel := context.WithDeadline(context.Background(), deadline)
				defer cancel()

				resp, err := fn(ctx, ev)
				if err != nil {
					t.Fatal(err)
				}
				if left := time.Until(deadline); left <= 0 {
					t.Fatalf("answered %v after the invocation deadline", -left)
				}
				var failed []string
				for _, f := range resp.BatchItemFailures {
					failed = append(failed, f.ItemIdentifier)
				}
				if !slices.Equal(failed, []string{"slow", "late"}) {
					t.Fatalf("batch item failures = %v, want the unfinished and the unstarted message, not the done one", failed)
				}

				time.Sleep(time.Minute) // every handler is over
				synctest.Wait()
				settler.mu.Lock()
				defer settler.mu.Unlock()
				if !slices.Equal(settler.parked, tt.wantParked) || !slices.Equal(settler.backoffs, tt.wantBackoffs) {
					t.Fatalf("parked %v, backed off %v; want %v parked and only %v backed off (before the answer)",
						settler.parked, settler.backoffs, tt.wantParked, tt.wantBackoffs)
				}
			})
		})
	}
}

func TestReplyMargin(t *testing.T) {
	tests := []struct {
		remaining, want time.Duration // want: how much earlier than the invocation deadline
	}{
		{3 * time.Second, time.Second},
		{30 * time.Second, 3 * time.Second},
		{15 * time.Minute, 10 * time.Second},
	}
	for _, tt := range tests {
		if got := replyMargin(tt.remaining); got != tt.want {
			t.Errorf("replyMargin(%v) = %v, want %v", tt.remaining, got, tt.want)
		}
	}
}
