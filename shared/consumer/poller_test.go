package consumer_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/devstack/devstacktest"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/metrics"
)

// The poller against real SQS (fauxqs), behind GiveUp as the services
// serve it: done messages are deleted, permanent failures parked in the
// DLQ with their reason, retryable ones received again until their last
// delivery (one before the redrive policy's count), where they are parked
// with their reason too — never moved by the queue without one — and a
// message still in flight when the poller is told to stop finishes and is
// deleted.
func TestPollerSettlesEveryOutcome(t *testing.T) {
	st := devstacktest.Start(t, devstack.Options{MaxReceiveCount: 3, VisibilityTimeout: 5 * time.Second})
	q := st.Resources.Inputs
	ctx := context.Background()
	send(t, st.SQS, q.URL, "ok", "bad", "flaky", "slow")

	var (
		c           counter
		lastMu      sync.Mutex
		flakyLast   []bool // Message.Last of each delivery of "flaky"
		slowStarted = make(chan struct{})
		release     = make(chan struct{}) // closed by the test once stop() was called
		slowDone    = make(chan struct{})
		startOnce   sync.Once
		doneOnce    sync.Once
	)
	h := consumer.HandlerFunc(func(ctx context.Context, m consumer.Message) error {
		c.add(string(m.Body))
		switch string(m.Body) {
		case "bad":
			return fault.Permanentf("malformed")
		case "flaky":
			lastMu.Lock()
			flakyLast = append(flakyLast, m.Last)
			lastMu.Unlock()
			return errors.New("try later")
		case "slow":
			startOnce.Do(func() { close(slowStarted) })
			<-release // in flight until after shutdown has begun
			doneOnce.Do(func() { close(slowDone) })
		}
		return nil
	})
	cfg := pollerConfig(q.DLQURL, 5*time.Second)
	cfg.RetryBase, cfg.RetryMax = time.Second, time.Second
	// The queue's maxReceiveCount (3) is read from its redrive policy, and
	// wins over SLUICE_MAX_RECEIVE's default (5).
	queue := consumer.NewQueue(ctx, zap.NewNop(), st.SQS, q.URL, cfg)
	if queue.MaxReceive != 3 {
		t.Fatalf("MaxReceive = %d, want the redrive policy's 3", queue.MaxReceive)
	}
	// A queue without a redrive policy (the DLQ itself) falls back to
	// SLUICE_MAX_RECEIVE and says why.
	core, logs := observer.New(zap.InfoLevel)
	if dq := consumer.NewQueue(ctx, zap.New(core), st.SQS, q.DLQURL, cfg); dq.MaxReceive != cfg.MaxReceive ||
		logs.FilterMessageSnippet("using SLUICE_MAX_RECEIVE").Len() != 1 {
		t.Fatalf("MaxReceive of a queue without a redrive policy = %d, want %d and a logged reason; logged %v",
			dq.MaxReceive, cfg.MaxReceive, logs.All())
	}
	plog, lines := jsonLog()
	p := consumer.NewPoller(queue, cfg, plog, consumer.GiveUp(h), metrics.New("Sluice", "dedupe"))
	// Each wait: one poll, one lost receive (a visibility timeout) and one
	// retry backoff at most, plus a margin for a loaded machine.
	patience := cfg.PollWait + cfg.Visibility + cfg.RetryMax + pollerMargin

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	ran := make(chan error, 1)
	go func() { ran <- p.Run(runCtx) }()

	select {
	case <-slowStarted:
	case <-time.After(patience):
		t.Fatal("the slow message was never handled")
	}
	// The flaky message must reach the DLQ parked by the consumer on its
	// second receive (its last, one before the redrive policy's third).
	dlq := receiveAll(t, st.SQS, q.DLQURL, 2, 2*patience)

	stop()
	// The slow handler is still blocked: Run must wait for it.
	select {
	case err := <-ran:
		t.Fatalf("Run returned (%v) while a message was in flight", err)
	case <-time.After(time.Second):
	}
	close(release)
	select {
	case err := <-ran:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(cfg.ShutdownGrace + pollerMargin):
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
	if a, ok := bodies["flaky"]; !ok || a[consumer.AttrErrorClass] != consumer.ClassRetriesExhausted ||
		!strings.Contains(a[consumer.AttrError], "try later") || a[consumer.AttrReceives] != "2" {
		t.Fatalf("flaky message in DLQ = %v, %v; want parked on its 2nd receive with class %s and its reason",
			ok, a, consumer.ClassRetriesExhausted)
	}
	lastMu.Lock()
	if len(flakyLast) != 2 || flakyLast[0] || !flakyLast[1] {
		t.Fatalf("Message.Last of the flaky message's deliveries = %v, want [false true]", flakyLast)
	}
	lastMu.Unlock()
	if seen := c.snapshot(); seen["ok"] != 1 || seen["bad"] != 1 || seen["slow"] != 1 || seen["flaky"] != 2 {
		t.Fatalf("handled %v; want ok, bad, slow once and flaky twice (maxReceiveCount-1)", seen)
	}
	// Each receive's batch line carries the service's message metrics:
	// five deliveries, two parked (bad, flaky on its last), one retried.
	if handled, parked, retried, _ := batchTotals(t, lines, "dedupe"); handled != 5 || parked != 2 || retried != 1 {
		t.Fatalf("batch lines: handled %v, parked %v, retried %v; want 5, 2, 1", handled, parked, retried)
	}
	// Nothing is left on the main queue, visible or not: done and parked
	// messages were deleted, the slow one too (it finished after the stop).
	if visible, inflight := queueDepth(t, st.SQS, q.URL); visible+inflight != 0 {
		t.Fatalf("%d visible and %d in-flight messages left on the queue", visible, inflight)
	}
}

// A handler that outlasts the visibility timeout keeps its message: the
// poller extends the visibility while it runs, so no other worker receives
// the message a second time.
func TestPollerExtendsVisibilityOfASlowMessage(t *testing.T) {
	const visibility = 2 * time.Second
	st := devstacktest.Start(t, devstack.Options{MaxReceiveCount: 5, VisibilityTimeout: visibility})
	q := st.Resources.Inputs
	send(t, st.SQS, q.URL, "long")

	var c counter
	finished := make(chan struct{})
	h := consumer.HandlerFunc(func(ctx context.Context, m consumer.Message) error {
		if c.add(string(m.Body)) == 1 {
			defer close(finished)
		}
		time.Sleep(5 * time.Second) // 2.5 visibility timeouts
		return nil
	})
	// Other workers are idle and polling all along: a message that
	// became visible again would be received at once.
	cfg := pollerConfig(q.DLQURL, visibility)
	p := consumer.NewPoller(&consumer.Queue{API: st.SQS, URL: q.URL, DLQURL: q.DLQURL}, cfg, zap.NewNop(), h, nil)

	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
	ran := make(chan error, 1)
	go func() { ran <- p.Run(runCtx) }()

	select {
	case <-finished:
	case <-time.After(cfg.PollWait + 5*time.Second + pollerMargin): // one poll, the 5s handler
		t.Fatal("the long message was never handled")
	}
	// Keep polling past one more visibility timeout, in case the delete failed.
	time.Sleep(visibility + time.Second)
	stop()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(cfg.ShutdownGrace + pollerMargin):
		t.Fatal("poller did not stop")
	}
	if n := c.snapshot()["long"]; n != 1 {
		t.Fatalf("the long message was handled %d times, want once: its visibility was not extended", n)
	}
	if visible, inflight := queueDepth(t, st.SQS, q.URL); visible+inflight != 0 {
		t.Fatalf("%d visible and %d in-flight messages left on the queue", visible, inflight)
	}
}

// A receive whose response never reaches the poller hides its messages for
// the visibility timeout that receive asked for: the poller's own
// (Config.Visibility), never the queue's. Here the response is lost the
// way a stopped poller loses it: its long poll is abandoned mid-wait, and
// SQS (fauxqs; AWS documents nothing either way) hands the next message to
// that poll anyway. The queue's own visibility timeout is a minute; the
// message must be back after the poller's two seconds.
func TestPollerLostReceiveHidesAMessageOnlyForItsVisibility(t *testing.T) {
	const visibility = 2 * time.Second
	st := devstacktest.Start(t, devstack.Options{MaxReceiveCount: 5, VisibilityTimeout: time.Minute})
	q := st.Resources.Inputs
	cfg := pollerConfig(q.DLQURL, visibility)
	cfg.PollWait = 20 * time.Second // the abandoned poll outlives the wait below
	queue := &consumer.Queue{API: st.SQS, URL: q.URL, DLQURL: q.DLQURL}
	got := make(chan consumer.Message, 10)
	h := consumer.HandlerFunc(func(_ context.Context, m consumer.Message) error { got <- m; return nil })

	// A poller told to stop while its long poll waits on an empty queue.
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- consumer.NewPoller(queue, cfg, zap.NewNop(), h, nil).Run(ctx) }()
	time.Sleep(time.Second) // its receive is waiting at the emulator
	stop()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}

	send(t, st.SQS, q.URL, "m")
	sent := time.Now()
	ctx2, stop2 := context.WithCancel(context.Background())
	defer stop2()
	go func() { _ = consumer.NewPoller(queue, cfg, zap.NewNop(), h, nil).Run(ctx2) }()
	select {
	case m := <-got:
		if m.ReceiveCount != 2 {
			t.Fatalf("the message came as receive %d, want 2: the emulator no longer hands messages to an abandoned poll, so this test no longer loses a receive (find another way)", m.ReceiveCount)
		}
		if waited := time.Since(sent); waited > visibility+pollerMargin {
			t.Fatalf("the message was back after %v, want about the poller's visibility %v", waited, visibility)
		}
	case <-time.After(visibility + pollerMargin):
		t.Fatalf("the message lost by the abandoned receive was not back within the poller's visibility %v (+%v): the receive asked for a longer one", visibility, pollerMargin)
	}
}

// pollerMargin is what a wait of the poller tests allows beyond the
// timeouts the test configured: a loaded 2-core machine.
const pollerMargin = 10 * time.Second

// pollerConfig is the consumer config of the poller tests: three workers,
// one-second polls, the given visibility.
func pollerConfig(dlqURL string, visibility time.Duration) consumer.Config {
	cfg := consumer.DefaultConfig()
	cfg.DLQURL, cfg.Workers, cfg.PollWait, cfg.Visibility, cfg.ShutdownGrace = dlqURL, 3, time.Second, visibility, 20*time.Second
	return cfg
}

// counter counts handler calls by message body.
type counter struct {
	mu   sync.Mutex
	seen map[string]int
}

func (c *counter) add(body string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]int{}
	}
	c.seen[body]++
	return c.seen[body]
}

func (c *counter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.seen))
	for k, v := range c.seen {
		out[k] = v
	}
	return out
}

func send(t *testing.T, api *sqs.Client, url string, bodies ...string) {
	t.Helper()
	for _, body := range bodies {
		if _, err := api.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)}); err != nil {
			t.Fatal(err)
		}
	}
}

// queueDepth returns the visible and in-flight message counts of url.
func queueDepth(t *testing.T, api *sqs.Client, url string) (visible, inflight int) {
	t.Helper()
	out, err := api.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	visible, _ = strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
	inflight, _ = strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	return visible, inflight
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
