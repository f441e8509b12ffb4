package consumer

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sluice-data/sluice/shared/awsconf"
)

// stalledSQS is an SQS whose receives never answer: a half-open
// connection, a stalled server.
type stalledSQS struct{ SQSAPI }

func (stalledSQS) ReceiveMessage(ctx context.Context, _ *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// A receive whose answer never comes ends by its wait plus the call
// timeout, so that the poller's loop goes on. (Fake time: synctest.)
func TestReceiveThatNeverAnswersEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := &Queue{API: stalledSQS{}, URL: "http://sqs.test/q"}
		const wait = 20 * time.Second
		start := time.Now()
		_, err := q.Receive(context.Background(), 10, wait, 30*time.Second)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Receive = %v, want the call's deadline", err)
		}
		if took := time.Since(start); took != wait+awsconf.CallTimeout {
			t.Fatalf("Receive ended after %v, want %v", took, wait+awsconf.CallTimeout)
		}
	})
}
