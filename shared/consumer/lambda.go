package consumer

import (
	"context"
	"strconv"
	"sync"

	"github.com/aws/aws-lambda-go/events"
	"go.uber.org/zap"
)

// Settler is what the Lambda transport needs of the queue: parking
// permanent failures and shortening the wait before a retry.
type Settler interface {
	Parker
	Backoff(ctx context.Context, m Message) error
}

var _ Settler = (*Queue)(nil)

// Lambda returns an aws-lambda-go handler for SQS events that runs h on each
// record, up to workers at a time, and reports the failed ones as batch item
// failures, so that one bad message never fails its batch-mates. The event
// source mapping must enable ReportBatchItemFailures.
//
// Parked and done messages are deleted by Lambda when the invocation
// returns; failed ones become visible again after the visibility timeout.
func Lambda(log *zap.Logger, h Handler, q Settler, workers int) func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
	if workers < 1 {
		workers = 1
	}
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		var (
			mu   sync.Mutex
			resp events.SQSEventResponse
			wg   sync.WaitGroup
			sem  = make(chan struct{}, workers)
		)
		for _, rec := range ev.Records {
			sem <- struct{}{}
			wg.Add(1)
			go func(rec events.SQSMessage) {
				defer func() { <-sem; wg.Done() }()
				m := fromLambda(rec)
				if Process(ctx, log, h, q, m) == Retry {
					if err := q.Backoff(ctx, m); err != nil {
						log.Warn("could not shorten the retry delay", zap.String("message_id", m.ID), zap.Error(err))
					}
					mu.Lock()
					resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
					mu.Unlock()
				}
			}(rec)
		}
		wg.Wait()
		return resp, nil
	}
}

func fromLambda(rec events.SQSMessage) Message {
	n, _ := strconv.Atoi(rec.Attributes["ApproximateReceiveCount"])
	attrs := make(map[string]string, len(rec.MessageAttributes))
	for k, v := range rec.MessageAttributes {
		if v.StringValue != nil {
			attrs[k] = *v.StringValue
		}
	}
	return Message{ID: rec.MessageId, Body: []byte(rec.Body), ReceiveCount: n, Attributes: attrs, ReceiptHandle: rec.ReceiptHandle}
}
