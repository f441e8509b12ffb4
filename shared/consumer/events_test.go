package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/logging"
)

func TestLambdaEvents(t *testing.T) {
	refused := fault.Permanentf("not a schedule")
	tests := []struct {
		name     string
		event    string
		otherErr error
		wantSQS  bool
		wantErr  error
	}{
		{"SQS event", `{"Records":[{"messageId":"m-1","body":"ok","eventSource":"aws:sqs"}]}`, nil, true, nil},
		{"scheduled event", `{"detail-type":"Scheduled Event","id":"e-1"}`, nil, false, nil},
		{"empty Records is no SQS event", `{"Records":[]}`, nil, false, nil},
		{"not an object", `["a"]`, nil, false, nil},
		{"other's error is returned and logged once", `{"x":1}`, refused, false, refused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zap.DebugLevel)
			var sqsCalled, otherCalled, scoped bool
			sqs := func(_ context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
				sqsCalled = len(ev.Records) == 1 && ev.Records[0].MessageId == "m-1"
				return events.SQSEventResponse{}, nil
			}
			other := func(ctx context.Context, raw json.RawMessage) (any, error) {
				otherCalled = string(raw) == tt.event
				logging.Annotate(ctx, zap.String("trigger", "schedule"))
				scoped = true
				return "reply", tt.otherErr
			}
			reply, err := LambdaEvents(zap.New(core), sqs, other)(context.Background(), json.RawMessage(tt.event))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if sqsCalled != tt.wantSQS || otherCalled == tt.wantSQS {
				t.Fatalf("sqs called %v, other called %v; want the SQS path %v", sqsCalled, otherCalled, tt.wantSQS)
			}
			if !tt.wantSQS && tt.wantErr == nil && reply != "reply" {
				t.Fatalf("reply = %v, want other's", reply)
			}
			wantLines := 0
			if tt.wantErr != nil {
				wantLines = 1
			}
			if n := logs.FilterLevelExact(zapcore.ErrorLevel).FilterMessage("event failed").Len(); n != wantLines || !tt.wantSQS && !scoped {
				t.Fatalf("%d error lines, want %d: %v", n, wantLines, logs.All())
			}
			if wantLines == 1 && logs.All()[0].ContextMap()["trigger"] != "schedule" {
				t.Fatalf("the error line lacks the fields the event handler added: %v", logs.All()[0].ContextMap())
			}
		})
	}
}
