package e2e

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sluice-data/sluice/scripts/localrun"
	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/runs"
)

// sweepEvery is the scheduler's SLUICE_SWEEP_EVERY in these tests, and
// sweepGrace its SLUICE_SWEEP_GRACE past a lease's expiry.
const (
	sweepEvery = time.Second
	sweepGrace = 5 * time.Second
)

// sweepLease: a 6s lease renewed every 2s and an 8s poller visibility
// timeout, so that a killed try's message comes back after its lease
// expired (and restarts the fetch as the next attempt) but before the
// sweep would take the run up (lease + grace).
var sweepLease = []string{"SLUICE_MAX_MESSAGE_BYTES=32768", "SLUICE_VISIBILITY=8s", "SLUICE_LEASE=6s", "SLUICE_HEARTBEAT=2s",
	"SLUICE_SWEEP_EVERY=" + sweepEvery.String(), "SLUICE_SWEEP_GRACE=" + sweepGrace.String()}

// killer kills the fetcher each time the run of input starts a try that
// kill picks (by the fetch message and the attempt it runs as), and starts
// a fresh fetcher in its place, as a crash would leave it to Lambda or
// a container supervisor.
type killer struct {
	e      *env
	input  string
	kill   func(r runs.Run) bool
	stop   chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	killed []runs.Run
}

func (e *env) killFetcherOn(input string, fetcher *localrun.Proc, kill func(runs.Run) bool) *killer {
	k := &killer{e: e, input: input, kill: kill, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(k.done)
		seen := map[string]bool{}
		for {
			select {
			case <-k.stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			r, err := e.runs.Get(context.Background(), input)
			if err != nil || r.Status != runs.Running {
				continue
			}
			try := r.FetchMessage + "/" + r.StartedAt
			if seen[try] || !kill(r) {
				continue
			}
			seen[try] = true
			fetcher.Kill()
			k.mu.Lock()
			k.killed = append(k.killed, r)
			k.mu.Unlock()
			if fetcher, err = e.pipe.Start("fetcher"); err != nil {
				e.t.Error(err)
				return
			}
		}
	}()
	e.t.Cleanup(k.halt)
	return k
}

func (k *killer) halt() {
	select {
	case <-k.stop:
	default:
		close(k.stop)
	}
	<-k.done
}

func (k *killer) tries() []runs.Run {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]runs.Run(nil), k.killed...)
}

// peek returns the messages of a queue (a DLQ) without keeping them: each
// is hidden for a second only.
func (e *env) peek(url string) []sqstypes.Message {
	e.t.Helper()
	var got []sqstypes.Message
	seen := map[string]bool{}
	for range 3 {
		out, err := e.stack.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 1,
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, m := range out.Messages {
			if !seen[aws.ToString(m.MessageId)] {
				seen[aws.ToString(m.MessageId)] = true
				got = append(got, m)
			}
		}
	}
	return got
}

// ofInput keeps the messages whose body names input's source and window.
func ofInput(msgs []sqstypes.Message, source, window string) []sqstypes.Message {
	var out []sqstypes.Message
	for _, m := range msgs {
		b := aws.ToString(m.Body)
		if strings.Contains(b, `"source":"`+source+`"`) && strings.Contains(b, `"window":"`+window+`"`) {
			out = append(out, m)
		}
	}
	return out
}

// sweepBound is how long after its lease expired a crashed run is taken
// up again with nobody acting: one sweep interval and the grace, plus a
// margin; the new attempt then needs a claim and the work.
func (tm timing) sweepBound(work time.Duration) time.Duration {
	return tm.lease + sweepEvery + sweepGrace + tm.within(work)
}

// A fetcher killed on both deliveries of an input's fetch message: the
// message reaches the fetch DLQ by SQS's own count, with no reason, and
// its run stays RUNNING with an expired lease. The scheduler's sweep takes
// the run up again (re-sends its input; dedupe claims the next attempt),
// the run SUCCEEDED exactly, and the sweep deletes the DLQ message, which
// the new attempt no longer needs.
func TestSweepTakesUpARunWhoseFetcherDiedOnEveryDelivery(t *testing.T) {
	t.Parallel()
	e := start(t, setup{api: slowOrders, stack: devstack.Options{VisibilityTimeout: 8 * time.Second, MaxReceiveCount: 2}, env: sweepLease, noStart: true})
	fetcher := startWithoutFetcher(t, e)
	if _, err := e.pipe.Start("scheduler"); err != nil {
		t.Fatal(err)
	}
	const input = "orders/2026-11-13"
	var first string
	k := e.killFetcherOn(input, fetcher, func(r runs.Run) bool {
		if first == "" {
			first = r.FetchMessage
		}
		return r.FetchMessage == first // every try of the first fetch message
	})
	e.send(e.stack.Resources.Inputs.URL, e.input("orders", "2026-11-13"))

	// Both deliveries killed, then the sweep's take-up.
	r := e.waitFor(input, 2*e.timing.afterCrash(5*time.Second)+e.timing.sweepBound(10*time.Second), func(r runs.Run) bool { return r.Status == runs.Succeeded })
	k.halt()
	if n := len(k.tries()); n != 2 {
		t.Fatalf("killed %d tries of the first fetch message, want 2 (one per delivery)", n)
	}
	if r.Attempt != 3 || r.FetchMessage == first {
		t.Fatalf("run SUCCEEDED as attempt %d by fetch message %s; want attempt 3, taken up by the sweep with a new fetch message (the first was %s)", r.Attempt, r.FetchMessage, first)
	}
	e.checkPartition(r)
	if claimed, err := time.Parse(time.RFC3339Nano, r.ClaimedAt); err == nil {
		t.Logf("lease expiry to the sweep's claim: %v (lease 6s, sweep every %v, grace %v)",
			claimed.Sub(k.tries()[1].LeaseExpiry()).Round(100*time.Millisecond), sweepEvery, sweepGrace)
	}
	logs, _ := e.pipe.Logs("scheduler")
	if !strings.Contains(logs, "taken up again") {
		t.Fatalf("the scheduler did not log the take-up:\n%s", tail(logs, 3000))
	}

	// The first fetch message reached the DLQ; the sweep deletes it.
	dlq := e.stack.Resources.Fetch.DLQURL
	deadline := time.Now().Add(e.timing.within(2*sweepEvery) + 2*e.timing.visibility)
	for {
		left := ofInput(e.peek(dlq), "orders", "2026-11-13")
		if len(left) == 0 && strings.Contains(logsOf(e, "scheduler"), "DLQ message no longer needed") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the fetch DLQ still holds %d messages of %s (or none was ever deleted by the sweep)\n%s", len(left), input, e.where())
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Every sweep also measures each source's freshness from the runs
	// table (BatchGetItem): orders' latest SUCCEEDED window is now
	// 2026-11-13, weeks behind its schedule, so its lag is above 0.
	e.waitFreshness(t, "orders", "2026-11-13", e.timing.within(2*sweepEvery))
}

// A fetcher killed on every try of an input, whatever attempt or message:
// the sweep takes the run up SLUICE_MAX_TAKEUPS times, then marks it
// FAILED with the reason instead of re-sending it, and every DLQ message
// of the input ends parked with that reason.
func TestSweepFailsAPoisonRunAfterItsTakeUpBudget(t *testing.T) {
	t.Parallel()
	env := append(append([]string{}, sweepLease...), "SLUICE_MAX_TAKEUPS=2")
	e := start(t, setup{api: slowOrders, stack: devstack.Options{VisibilityTimeout: 8 * time.Second, MaxReceiveCount: 2}, env: env, noStart: true})
	fetcher := startWithoutFetcher(t, e)
	if _, err := e.pipe.Start("scheduler"); err != nil {
		t.Fatal(err)
	}
	const input = "orders/2026-11-14"
	k := e.killFetcherOn(input, fetcher, func(runs.Run) bool { return true })
	e.send(e.stack.Resources.Inputs.URL, e.input("orders", "2026-11-14"))

	// The first attempt and two take-ups, each lost to a kill, then FAILED.
	r := e.waitFor(input, 3*e.timing.sweepBound(10*time.Second)+2*e.timing.afterCrash(5*time.Second), func(r runs.Run) bool { return r.Status == runs.Failed })
	k.halt()
	// Its first attempt and each of the two take-ups died (a try the
	// queue's redelivery restarted counts with the attempt it restarted).
	if r.ErrorClass != runs.ClassCrashed || !strings.Contains(r.LastError, "taken up again 2 times in a row") {
		t.Fatalf("run FAILED with %s: %s; want class %s and the reason, after 2 take-ups (SLUICE_MAX_TAKEUPS)", r.ErrorClass, r.LastError, runs.ClassCrashed)
	}
	const takenUp = `"msg":"run's lease expired with nobody on it; taken up again: input sent"`
	if logs := logsOf(e, "scheduler"); strings.Count(logs, takenUp) != 2 {
		t.Fatalf("the scheduler took the run up %d times, want 2:\n%s", strings.Count(logs, takenUp), tail(logs, 3000))
	}

	// Every fetch message of the input that reached the DLQ says why.
	dlq := e.stack.Resources.Fetch.DLQURL
	deadline := time.Now().Add(e.timing.afterCrash(0) + 2*e.timing.visibility)
	for {
		// Messages still in flight on the fetch queue reach the DLQ or are
		// dropped as fenced once their last delivery is over.
		e.queueIdle(e.stack.Resources.Fetch.URL, e.timing.within(4*e.timing.visibility))
		msgs := ofInput(e.peek(dlq), "orders", "2026-11-14")
		bare := 0
		for _, m := range msgs {
			if _, ok := m.MessageAttributes[consumer.AttrError]; !ok {
				bare++
			}
		}
		if len(msgs) > 0 && bare == 0 {
			for _, m := range msgs {
				if !strings.Contains(aws.ToString(m.MessageAttributes[consumer.AttrError].StringValue), "the worker died") {
					t.Fatalf("DLQ message %s parked with %q; want the run's reason", aws.ToString(m.MessageId), aws.ToString(m.MessageAttributes[consumer.AttrError].StringValue))
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fetch DLQ: %d messages of %s, %d without a reason\n%s", len(msgs), input, bare, e.where())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// The scheduler's bootstrap under the Lambda emulator, invoked with the
// sweep rule's event, takes up a run whose worker died an hour ago (a
// Lambda batch's unstarted record would keep the queue's long visibility
// timeout): the run's input is on the inputs queue, and the answer is the
// sweep's report.
func TestSchedulerOnLambdaSweeps(t *testing.T) {
	t.Parallel()
	e := start(t, setup{noStart: true})
	past, err := runs.New(e.stack.DynamoDB, runs.Config{Table: e.stack.Resources.Table}, runs.WithClock(func() time.Time { return time.Now().Add(-time.Hour) }))
	if err != nil {
		t.Fatal(err)
	}
	claimed, err := past.Claim(context.Background(), runs.ClaimRequest{Source: "orders", Window: "2026-11-15", Trigger: "schedule", MessageID: "m-1"})
	if err != nil {
		t.Fatal(err)
	}
	// Its fetch had started: a CLAIMED run's fetch message is queued, and
	// the sweep leaves it.
	if _, err := past.Start(context.Background(), claimed.Ref(), "f-1"); err != nil {
		t.Fatal(err)
	}
	fn := e.startFunction("scheduler", 10*time.Second, "SLUICE_SWEEP_GRACE=1s")
	out := e.invoke(fn, golden(t, "eventbridge-sweep-event.json"))
	if out.Failed || out.TimedOut || !strings.Contains(string(out.Body), `"TakenUp":1`) {
		t.Fatalf("answer %d %s, want the sweep's report with one run taken up", out.Status, out.Body)
	}
	msgs := e.drain(e.stack.Resources.Inputs.URL, 1, e.timing.within(time.Second))
	if len(msgs) != 1 {
		t.Fatalf("inputs queue: %d messages, want the taken-up run's input", len(msgs))
	}
	in, err := contracts.DecodeInput([]byte(aws.ToString(msgs[0].Body)))
	if err != nil || in.Key() != "orders/2026-11-15" || in.Trigger != "schedule" || in.Force || !in.TakeUp {
		t.Fatalf("input %s (%v), want orders/2026-11-15, trigger schedule, not forced, a take-up", aws.ToString(msgs[0].Body), err)
	}
	if r, err := e.runs.Get(context.Background(), "orders/2026-11-15"); err != nil || r.TakeUps != 1 {
		t.Fatalf("run %+v, %v: want one take-up counted", r, err)
	}
}

func logsOf(e *env, name string) string {
	logs, _ := e.pipe.Logs(name)
	return logs
}
