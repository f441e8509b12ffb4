package consumer_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/metrics"
	"github.com/sluice-data/sluice/shared/metrics/metricstest"
)

// lockedBuffer is a buffer for a logger that several goroutines write to.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) lines() [][]byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b.buf.Bytes()))
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	return out
}

// jsonLog is a JSON logger like the services', into a buffer.
func jsonLog() (*zap.Logger, *lockedBuffer) {
	buf := &lockedBuffer{}
	core := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(buf), zap.InfoLevel)
	return zap.New(core), buf
}

// batchTotals sums the message metrics of every "batch handled" line in
// buf, each checked against the EMF specification, and counts the lines.
func batchTotals(t *testing.T, buf *lockedBuffer, service string) (handled, parked, retried float64, lines int) {
	t.Helper()
	for _, l := range buf.lines() {
		var m struct{ Msg string }
		if err := json.Unmarshal(l, &m); err != nil || m.Msg != "batch handled" {
			continue
		}
		lines++
		vals, dims, err := metricstest.Values(l)
		if err != nil {
			t.Fatalf("batch line breaks the EMF specification: %v\n%s", err, l)
		}
		if dims[metrics.DimService] != service {
			t.Fatalf("batch line's Service = %q, want %q: %s", dims[metrics.DimService], service, l)
		}
		handled += vals[metrics.MessagesHandled.Name]
		parked += vals[metrics.MessagesParked.Name]
		retried += vals[metrics.MessagesRetried.Name]
	}
	return handled, parked, retried, lines
}

type parkingSettler struct{}

func (parkingSettler) Park(context.Context, consumer.Message, error) error            { return nil }
func (parkingSettler) Hide(context.Context, consumer.Message, time.Duration) error    { return nil }
func (parkingSettler) Backoff(context.Context, consumer.Message, time.Duration) error { return nil }

// One Lambda invocation writes one batch line: its records, those parked
// and those reported failed, as the service's metrics.
func TestLambdaBatchLineCarriesMessageMetrics(t *testing.T) {
	log, buf := jsonLog()
	h := consumer.HandlerFunc(func(_ context.Context, m consumer.Message) error {
		switch string(m.Body) {
		case "bad":
			return fault.Permanentf("malformed")
		case "flaky":
			return fault.Retryablef("try later")
		}
		return nil
	})
	fn := consumer.Lambda(log, h, parkingSettler{}, 2, 5, 0, metrics.New("Sluice", "dedupe"))
	var ev events.SQSEvent
	for i, b := range []string{"ok", "bad", "flaky", "ok", "bad", "ok"} {
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: b + string(rune('a'+i)), Body: b, Attributes: map[string]string{"ApproximateReceiveCount": "1"}})
	}
	resp, err := fn(context.Background(), ev)
	if err != nil || len(resp.BatchItemFailures) != 1 {
		t.Fatalf("resp %+v, err %v", resp, err)
	}
	handled, parked, retried, lines := batchTotals(t, buf, "dedupe")
	if lines != 1 || handled != 6 || parked != 2 || retried != 1 {
		t.Fatalf("%d batch lines: handled %v, parked %v, retried %v; want 1 line: 6, 2, 1", lines, handled, parked, retried)
	}
}
