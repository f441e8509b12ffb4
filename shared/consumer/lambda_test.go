package consumer_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/devstack/devstacktest"
)

// dyingSQS is an SQS client whose calls fail once its process is dead.
type dyingSQS struct {
	consumer.SQSAPI
	dead atomic.Bool
}

var errDead = errors.New("the sandbox is gone")

func (d *dyingSQS) ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	if d.dead.Load() {
		return nil, errDead
	}
	return d.SQSAPI.ChangeMessageVisibility(ctx, in, opts...)
}

// Against fauxqs: a message a Lambda sandbox dies with is back within the
// consumer's visibility (SLUICE_VISIBILITY), not after the queue's own
// visibility timeout (an hour here; 6 × the function's timeout on AWS,
// 90 minutes for the fetcher) — while a live handler keeps it hidden past
// that visibility. So a crashed Lambda's run is taken up again within
// about one lease with nobody acting: its fetch comes back, waits out the
// run's lease, and restarts as the next attempt.
func TestLambdaMessageOfACrashedSandboxIsBackWithinTheVisibility(t *testing.T) {
	const visibility = 2 * time.Second
	st := devstacktest.Start(t, devstack.Options{MaxReceiveCount: 5, VisibilityTimeout: time.Hour})
	q := st.Resources.Fetch
	send(t, st.SQS, q.URL, "fetch")

	// Received as the event source mapping does: with the queue's own
	// visibility timeout.
	out, err := st.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(q.URL), MaxNumberOfMessages: 1, WaitTimeSeconds: 5,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount},
	})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("receive = %v, %v", out, err)
	}
	m := out.Messages[0]
	ev := events.SQSEvent{Records: []events.SQSMessage{{
		MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body),
		Attributes: map[string]string{"ApproximateReceiveCount": m.Attributes[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)]},
	}}}

	api := &dyingSQS{SQSAPI: st.SQS}
	queue := &consumer.Queue{API: api, URL: q.URL, DLQURL: q.DLQURL}
	started, crashed := make(chan struct{}), make(chan struct{})
	h := consumer.HandlerFunc(func(ctx context.Context, m consumer.Message) error {
		close(started)
		<-crashed // a long fetch, until its sandbox dies
		return nil
	})
	fn := consumer.Lambda(zap.NewNop(), h, queue, 1, 5, visibility, nil)
	answered := make(chan struct{})
	go func() { defer close(answered); _, _ = fn(context.Background(), ev) }()
	t.Cleanup(func() { <-answered })
	defer close(crashed)
	<-started

	// Alive: hidden past its visibility, extended while it is handled.
	if got := receiveAll(t, st.SQS, q.URL, 1, 2*visibility+time.Second); len(got) != 0 {
		t.Fatalf("a message whose handler is alive was delivered again after %v", 2*visibility+time.Second)
	}
	// The sandbox dies: no more extensions. Back within the visibility
	// (plus the SQS rounding of one extension and a margin), not in an hour.
	api.dead.Store(true)
	diedAt := time.Now()
	got := receiveAll(t, st.SQS, q.URL, 1, visibility+5*time.Second)
	if len(got) != 1 || aws.ToString(got[0].Body) != "fetch" {
		t.Fatalf("the message of a crashed sandbox was not back within %v (the queue's own visibility timeout is %v)",
			visibility+5*time.Second, time.Hour)
	}
	t.Logf("back %v after the crash", time.Since(diedAt).Round(100*time.Millisecond))
}
