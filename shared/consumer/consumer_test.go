package consumer

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
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

func (f *fakeSettler) Backoff(_ context.Context, m Message) error {
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
	h := Lambda(zap.New(core), byBody, settler, 3)

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
			got := Process(context.Background(), zap.NewNop(), byBody, &fakeSettler{parkErr: tt.parkErr}, Message{ID: "m", Body: []byte(tt.body)})
			if got != tt.want {
				t.Fatalf("outcome = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRetryDelay(t *testing.T) {
	tests := []struct {
		receives int
		min, max time.Duration
	}{
		{1, 2 * time.Second, 3 * time.Second},
		{2, 4 * time.Second, 5 * time.Second},
		{3, 8 * time.Second, 10 * time.Second},
		{10, 60 * time.Second, 72 * time.Second},
	}
	for _, tt := range tests {
		for range 20 {
			d := RetryDelay(2*time.Second, time.Minute, tt.receives)
			if d < tt.min || d > tt.max || d%time.Second != 0 {
				t.Fatalf("RetryDelay(receives=%d) = %v, want whole seconds in [%v, %v]", tt.receives, d, tt.min, tt.max)
			}
		}
	}
}
