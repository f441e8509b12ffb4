package consumer

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/events"
	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/logging"
)

// EventHandler handles one Lambda event that is not an SQS event (an
// EventBridge event, a direct invocation). It returns the reply, or an
// error for the invoker to act on: EventBridge retries the event and then
// sends it to its DLQ.
type EventHandler func(ctx context.Context, raw json.RawMessage) (any, error)

// LambdaEvents returns an aws-lambda-go handler for a function invoked
// both by an SQS event source and directly: SQS events (a Records array of
// SQS records) go to sqs, as from Lambda; anything else to other, with a
// log scope in its context. other's error is logged here, once, and
// returned.
func LambdaEvents(log *zap.Logger, sqs func(context.Context, events.SQSEvent) (events.SQSEventResponse, error), other EventHandler) func(context.Context, json.RawMessage) (any, error) {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		if ev, ok := sqsEvent(raw); ok {
			return sqs(ctx, ev)
		}
		ctx, scope := logging.WithScope(ctx, log)
		reply, err := other(ctx, raw)
		if err != nil {
			scope.Logger().Error("event failed", zap.String("error_class", fault.ClassOf(err).String()),
				errorField("error", err))
			return nil, err
		}
		return reply, nil
	}
}

// sqsEvent decodes raw as an SQS event, if it is one.
func sqsEvent(raw json.RawMessage) (events.SQSEvent, bool) {
	var probe struct {
		Records []json.RawMessage `json:"Records"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil || len(probe.Records) == 0 {
		return events.SQSEvent{}, false
	}
	var ev events.SQSEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return events.SQSEvent{}, false
	}
	return ev, true
}
