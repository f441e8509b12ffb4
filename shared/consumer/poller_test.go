package consumer_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/devstack/devstacktest"
	"github.com/sluice-data/sluice/shared/fault"
)

// The poller against real SQS (fauxqs): done messages are deleted,
// permanent failures parked in the DLQ with their reason, retryable ones
// received again until the redrive policy moves them to the DLQ, and a
// message in flight at shutdown finishes and is deleted.
func TestPollerSettlesEveryOutcome(t *testing.T) {
	st := devstacktest.Start(t, devstack.Options{MaxReceiveCount: 2, VisibilityTimeout: 5 * time.Second})
	q := st.Resources.Inputs
	ctx := context.Background()
	for _, body := range []string{"ok", "bad", "flaky", "slow"} {
		if _, err := st.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.URL), MessageBody: aws.String(body)}); err != nil {
			t.Fatal(err)
		}
	}

	var (
		mu       sync.Mutex
		seen     = map[string]int{}
		slowDone = make(chan struct{})
		slowSeen = make(chan struct{}, 1)
	)
	h := consumer.HandlerFunc(func(ctx context.Context, m consumer.Message) error {
		mu.Lock()
		seen[string(m.Body)]++
		mu.Unlock()
		switch string(m.Body) {
		case "bad":
			return fault.Permanentf("malformed")
		case "flaky":
			return errors.New("try later")
		case "slow":
			slowSeen <- struct{}{}
			time.Sleep(1500 * time.Millisecond) // still running when shutdown starts
			close(slowDone)
		}
		return nil
	})
	p := consumer.NewPoller(
		&consumer.Queue{API: st.SQS, URL: q.URL, DLQURL: q.DLQURL, RetryBase: time.Second, RetryMax: time.Second},
		consumer.PollerConfig{Workers: 3, WaitTime: time.Second, Visibility: 5 * time.Second, ShutdownGrace: 10 * time.Second},
		zap.NewNop(), h)

	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- p.Run(runCtx) }()

	<-slowSeen
	// The flaky message must reach the DLQ through the redrive policy: two
	// receives, each failing; the third receive moves it.
	dlq := receiveAll(t, st.SQS, q.DLQURL, 2, 30*time.Second)
	stop()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("poller did not stop")
	}
	select {
	case <-slowDone:
	default:
		t.Fatal("shutdown did not let the in-flight message finish")
	}

	bodies := map[string]map[string]string{}
	for _, m := range dlq {
		attrs := map[string]string{}
		for k, v := range m.MessageAttributes {
			attrs[k] = aws.ToString(v.StringValue)
		}
		bodies[aws.ToString(m.Body)] = attrs
	}
	if a, ok := bodies["bad"]; !ok || a[consumer.AttrErrorClass] != "permanent" || a[consumer.AttrError] != "malformed" {
		t.Fatalf("bad message in DLQ = %v, %v; want parked with its reason", ok, a)
	}
	if _, ok := bodies["flaky"]; !ok {
		t.Fatalf("flaky message not in the DLQ: %v", bodies)
	}
	mu.Lock()
	defer mu.Unlock()
	if seen["ok"] != 1 || seen["bad"] != 1 || seen["slow"] != 1 || seen["flaky"] != 2 {
		t.Fatalf("handled %v; want ok, bad, slow once and flaky twice (maxReceiveCount)", seen)
	}
	// Nothing is left on the main queue: done and parked messages were deleted.
	left := receiveAll(t, st.SQS, q.URL, 1, 2*time.Second)
	if len(left) != 0 {
		t.Fatalf("%d messages left on the queue", len(left))
	}
}

func receiveAll(t *testing.T, api *sqs.Client, url string, want int, timeout time.Duration) []sqstypes.Message {
	t.Helper()
	var got []sqstypes.Message
	deadline := time.Now().Add(timeout)
	for len(got) < want && time.Now().Before(deadline) {
		out, err := api.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60,
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, out.Messages...)
	}
	return got
}
