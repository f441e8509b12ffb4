package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/scripts/localrun"
	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/runs"
)

// The Lambda tests run each service's real bootstrap (built as `make
// lambda-zips` builds it, for this machine) under AWS's Lambda Runtime
// Interface Emulator, aws-lambda-rie, and invoke it as Lambda would: with
// golden events from testdata/, and with SQS events made of the messages
// on the test's queues, as the event source mapping makes them. (They used
// to run against a stand-in Runtime API written here; nothing they check
// needs a behaviour the emulator lacks, so the stand-in is gone.)

// lambdaBuild is the bootstraps and the emulator, built and installed once
// per test run, on first use.
var lambdaBuild struct {
	once     sync.Once
	dir, rie string
	err      error
}

func bootstraps(t *testing.T) (dir, rie string) {
	t.Helper()
	lambdaBuild.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if lambdaBuild.err = localrun.InstallRIE(ctx, repoRoot); lambdaBuild.err != nil {
			return
		}
		lambdaBuild.dir, lambdaBuild.rie = filepath.Join(binDir, "lambda"), localrun.RIEPath(repoRoot)
		lambdaBuild.err = localrun.BuildBootstraps(ctx, repoRoot, lambdaBuild.dir)
	})
	if lambdaBuild.err != nil {
		t.Fatal(lambdaBuild.err)
	}
	return lambdaBuild.dir, lambdaBuild.rie
}

// startFunction runs the named service's bootstrap under the emulator
// with the given function timeout and extra environment.
func (e *env) startFunction(name string, timeout time.Duration, extra ...string) *localrun.Function {
	e.t.Helper()
	dir, rie := bootstraps(e.t)
	fn, err := e.pipe.StartFunction(context.Background(), name, localrun.FunctionSetup{
		RIE: rie, Bootstrap: filepath.Join(dir, name), Timeout: timeout, Env: extra,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(fn.Stop)
	return fn
}

func (e *env) invoke(fn *localrun.Function, payload []byte) localrun.Invocation {
	e.t.Helper()
	inv, err := fn.Invoke(context.Background(), payload)
	if err != nil {
		e.t.Fatal(err)
	}
	return inv
}

// golden reads testdata/name.
func golden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Partial batch responses, on dedupe and then the fetcher, each under the
// emulator. Dedupe gets the golden batch of testdata/sqs-inputs.json —
// two good inputs, a duplicate, a malformed message and an unknown source
// — and reports no failure: the duplicate loses its claim and is dropped,
// the other two are parked with their reasons. The fetcher then gets the
// two Fetch messages dedupe handed on, as the event source mapping
// delivers them, plus the golden malformed record, while the customers
// fetch message is still being worked on by a live try (a stuck sandbox:
// its run RUNNING by that very message, the lease held): its reply lists
// exactly the customers fetch, to come back when the lease ends, the
// malformed record is parked, and orders lands whole. (An API that
// answers 503 no longer fails its message: the walk stops and its
// continuation comes back after the wait; see the fetcher's stop tests.)
func TestLambdaBatchesAnswerPartially(t *testing.T) {
	t.Parallel()
	e := start(t, setup{noStart: true})
	res := e.stack.Resources
	if _, err := e.pipe.Start("writer"); err != nil {
		t.Fatal(err)
	}
	dedupe := e.startFunction("dedupe", 20*time.Second)
	fetcher := e.startFunction("fetcher", 20*time.Second, "SLUICE_HANDOFF_MARGIN=2s")

	inputs := golden(t, "sqs-inputs.json")
	var goldenEvent events.SQSEvent
	if err := json.Unmarshal(inputs, &goldenEvent); err != nil {
		t.Fatal(err)
	}
	if got := failedIDs(batchReply(t, e.invoke(dedupe, inputs))); len(got) != 0 {
		t.Fatalf("dedupe: batch item failures %v, want none", got)
	}
	parked := e.drain(res.Inputs.DLQURL, 2, e.timing.within(time.Second))
	reasons := map[string]string{}
	for _, m := range parked {
		reasons[aws.ToString(m.Body)] = aws.ToString(m.MessageAttributes[consumer.AttrError].StringValue)
	}
	for i, want := range map[int]string{3: "not valid JSON", 4: `unknown source "invoices"`} {
		if got := reasons[goldenEvent.Records[i].Body]; !strings.Contains(got, want) {
			t.Errorf("inputs DLQ: record %d parked with reason %q, want %q (DLQ: %v)", i, got, want, reasons)
		}
	}
	if len(parked) != 2 {
		t.Errorf("inputs DLQ holds %d messages, want 2", len(parked))
	}

	msgs := e.receive(res.Fetch.URL, 10, e.timing.within(time.Second))
	if more := e.receive(res.Fetch.URL, 10, 2*time.Second); len(more) > 0 {
		msgs = append(msgs, more...)
	}
	fetchIDs := map[string]string{} // source → message id
	for _, m := range msgs {
		f, err := contracts.DecodeFetch([]byte(aws.ToString(m.Body)))
		if err != nil || f.Attempt != 1 || f.Window != "2026-11-09" {
			t.Fatalf("fetch = %+v, %v", f, err)
		}
		fetchIDs[f.Source] = aws.ToString(m.MessageId)
		if f.Source == "customers" {
			// A live try of this message holds the run.
			if _, err := e.runs.Start(context.Background(), f.Run, aws.ToString(m.MessageId)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(msgs) != 2 || fetchIDs["orders"] == "" || fetchIDs["customers"] == "" {
		t.Fatalf("%d fetch messages %v, want one for orders and one for customers (the duplicate loses its claim)", len(msgs), fetchIDs)
	}
	logs, _ := e.pipe.Logs("dedupe")
	if strings.Count(logs, `"msg":"claimed"`) != 2 || !strings.Contains(logs, `"msg":"claim lost; duplicate dropped"`) {
		t.Errorf("dedupe log lacks the two claims and the lost one:\n%s", tail(logs, 3000))
	}

	ev := sqsEvent(msgs)
	ev.Records = append(ev.Records, goldenEvent.Records[3]) // malformed
	if got, want := failedIDs(batchReply(t, e.invoke(fetcher, mustJSON(t, ev)))), []string{fetchIDs["customers"]}; !slices.Equal(got, want) {
		t.Fatalf("fetcher: batch item failures %v, want exactly the customers fetch %v", got, want)
	}
	if parked := e.drain(res.Fetch.DLQURL, 1, e.timing.within(time.Second)); len(parked) != 1 || aws.ToString(parked[0].Body) != goldenEvent.Records[3].Body {
		t.Fatalf("fetch DLQ = %v, want the malformed record", parked)
	}
	r := e.waitRuns(e.timing.within(10*time.Second), "orders/2026-11-09")[0]
	e.checkPartition(r)
	if c, err := e.runs.Get(context.Background(), "customers/2026-11-09"); err != nil || c.Status == runs.Succeeded || c.Status == runs.Failed {
		t.Fatalf("customers run = %+v, %v: want it neither done nor failed, its message to be retried", c, err)
	}
}

// The scheduler's bootstrap under the emulator takes an EventBridge
// scheduled event (the latest complete day of every source) and an
// EventBridge Scheduler payload (a Trigger naming sources), and refuses
// an EventBridge event of another kind with an error, publishing nothing.
func TestSchedulerOnLambdaTakesScheduledEvents(t *testing.T) {
	t.Parallel()
	e := start(t, setup{noStart: true})
	fn := e.startFunction("scheduler", 10*time.Second)
	for _, tc := range []struct {
		event   string
		inputs  []string // sorted; nil: the event is refused
		refusal string
	}{
		{"eventbridge-scheduled-event.json", []string{"customers/2026-11-23", "events/2026-11-23", "orders/2026-11-23"}, ""},
		{"scheduler-trigger.json", []string{"events/2026-11-23", "orders/2026-11-23"}, ""},
		{"eventbridge-other-event.json", nil, `detail-type \"EC2 Instance State-change Notification\"`},
	} {
		t.Run(tc.event, func(t *testing.T) {
			out := e.invoke(fn, golden(t, tc.event))
			if tc.inputs == nil {
				if !out.Failed || !bytes.Contains(out.Body, []byte(tc.refusal)) {
					t.Fatalf("answer %d %s, want an error naming %s", out.Status, out.Body, tc.refusal)
				}
				if msgs := e.drain(e.stack.Resources.Inputs.URL, 1, 2*time.Second); len(msgs) != 0 {
					t.Fatalf("%d inputs published for a refused event", len(msgs))
				}
				return
			}
			if out.Failed || out.TimedOut {
				t.Fatalf("function error: %s", out.Body)
			}
			var keys []string
			for _, m := range e.drain(e.stack.Resources.Inputs.URL, len(tc.inputs), e.timing.within(time.Second)) {
				in, err := contracts.DecodeInput([]byte(aws.ToString(m.Body)))
				if err != nil || in.Trigger != contracts.TriggerSchedule {
					t.Fatalf("input %s: %v", aws.ToString(m.Body), err)
				}
				keys = append(keys, in.Key())
				if _, err := e.stack.SQS.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(e.stack.Resources.Inputs.URL), ReceiptHandle: m.ReceiptHandle}); err != nil {
					t.Fatal(err)
				}
			}
			slices.Sort(keys)
			if !slices.Equal(keys, tc.inputs) {
				t.Fatalf("inputs %v, want %v", keys, tc.inputs)
			}
		})
	}
}

// The fetcher under the emulator with a 6-second function timeout,
// fetching an input that takes longer: each invocation hands over before
// its deadline (checkpoint in the run record, continuation message), the
// next invocation goes on from there, and the partition ends exactly the
// API's, all within the first attempt.
func TestFetcherOnLambdaHandsOverBeforeItsDeadline(t *testing.T) {
	t.Parallel()
	e := start(t, setup{api: slowOrders, env: []string{"SLUICE_HANDOFF_MARGIN=4500ms", "SLUICE_MAX_MESSAGE_BYTES=32768"}, noStart: true})
	res := e.stack.Resources
	for _, name := range []string{"dedupe", "writer"} {
		if _, err := e.pipe.Start(name); err != nil {
			t.Fatal(err)
		}
	}
	fn := e.startFunction("fetcher", 6*time.Second)
	e.send(res.Inputs.URL, e.input("orders", "2026-11-13"))

	invocations := 0
	deadline := time.Now().Add(e.timing.within(30 * time.Second))
	for {
		if r, err := e.runs.Get(context.Background(), "orders/2026-11-13"); err == nil && r.BatchesExpected != nil {
			break // the last invocation sent the Done, and the writer has it
		}
		if time.Now().After(deadline) {
			t.Fatalf("no Done after %d invocations", invocations)
		}
		d, ok := e.deliver(fn, res.Fetch.URL, 1, time.Second)
		if !ok {
			continue
		}
		invocations++
		if reply := batchReply(t, d.inv); len(reply.BatchItemFailures) != 0 {
			t.Fatalf("invocation %d: %s", invocations, d.inv.Body)
		}
	}
	r := e.waitRuns(e.timing.within(10*time.Second), "orders/2026-11-13")[0]
	if invocations < 2 || r.Attempt != 1 {
		t.Fatalf("%d invocations, attempt %d: want a hand-over within one attempt", invocations, r.Attempt)
	}
	e.checkPartition(r)
	t.Logf("%d invocations of at most 6s for a fetch of about 2s of pages", invocations)
}

// A fetcher that overruns its function timeout is stopped by the emulator:
// the invocation answers "Task timed out", its fetch message is not
// deleted and comes back after the visibility timeout, a new bootstrap
// takes it, and the run goes on as the next attempt to exactly the API's
// records. Our functions answer before their deadline whatever their
// handlers do (consumer.Lambda), so the test makes one overrun the way a
// stuck process would: it stops the bootstrap (SIGSTOP) mid-fetch.
func TestFetcherOnLambdaOverrunningItsTimeoutIsRetried(t *testing.T) {
	t.Parallel()
	const timeout, visibility = 5 * time.Second, 8 * time.Second
	e := start(t, setup{api: slowOrders, stack: devstack.Options{VisibilityTimeout: visibility},
		env: []string{"SLUICE_MAX_MESSAGE_BYTES=32768", "SLUICE_LEASE=6s", "SLUICE_HEARTBEAT=2s", "SLUICE_HANDOFF_MARGIN=1s"}, noStart: true})
	res := e.stack.Resources
	fn, first := e.stallFetcherFunction(timeout, "2026-11-14")
	if !first.inv.TimedOut || string(first.inv.Body) != "Task timed out after 5.00 seconds" {
		t.Fatalf("first invocation: status %d %q, want the emulator's timeout", first.inv.Status, first.inv.Body)
	}
	stopped := time.Now()

	var again *delivery
	// The timed-out message is back after the queue's visibility; the
	// frozen try's lease must run out before the next try takes over.
	patience := visibility + e.timing.afterCrash(10*time.Second)
	deadline := time.Now().Add(patience)
	for {
		if r, err := e.runs.Get(context.Background(), "orders/2026-11-14"); err == nil && r.Status == runs.Succeeded {
			break
		}
		if time.Now().After(deadline) {
			r, err := e.runs.Get(context.Background(), "orders/2026-11-14")
			t.Fatalf("run not done %v after the timeout: %+v (%v)\n%s", patience, r, err, e.where())
		}
		if d, ok := e.deliver(fn, res.Fetch.URL, 1, time.Second); ok && again == nil {
			again = &d
		}
	}
	if again == nil || again.event.Records[0].MessageId != first.event.Records[0].MessageId || again.event.Records[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Fatalf("the timed-out fetch message did not come back as its second receive: %+v", again)
	}
	r := e.waitRuns(e.timing.within(time.Second), "orders/2026-11-14")[0]
	if r.Attempt != 2 {
		t.Fatalf("attempt %d, want 2 (the timed-out try was the first)", r.Attempt)
	}
	e.checkPartition(r)
	t.Logf("timeout to success: %v (function timeout %v, visibility %v, lease 6s)", time.Since(stopped).Round(10*time.Millisecond), timeout, visibility)
}

// Init failures — a bad setting, a missing secret — are reported as init
// errors with the reason: the service posts it to the Runtime API's
// /init/error before it exits, the emulator answers the invocation with
// it (502, as Lambda answers an init error), and its log says "Init
// failed" after the service's own line.
func TestLambdaInitFailuresAreReported(t *testing.T) {
	// The emulator logs with logrus, whose fields come in any order.
	initFailed := regexp.MustCompile(`\[ERROR\] \(rapid\) Init failed`)
	t.Parallel()
	e := start(t, setup{api: demoapi.Options{Sources: map[string]demoapi.SourceOptions{"orders": {Auth: demoapi.AuthOAuth2}}}, noStart: true})
	for _, tc := range []struct {
		name, service string
		env           []string
		reasons       []string
	}{
		{"bad setting", "dedupe", []string{"SLUICE_WORKERS=0"}, []string{"SLUICE_WORKERS: 0, want 1..100"}},
		{"missing secret", "fetcher", []string{demoapi.EnvClientSecret + "="}, []string{"pipeline.yaml: sources[0].auth.client_id", "env:" + demoapi.EnvClientID, "pipeline.yaml: sources[0].auth.client_secret"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fn := e.startFunction(tc.service, 5*time.Second, tc.env...)
			out := e.invoke(fn, golden(t, "sqs-inputs.json"))
			if !out.Failed || out.TimedOut {
				t.Fatalf("answer %d %q, want an init error", out.Status, out.Body)
			}
			var answer struct{ ErrorMessage, ErrorType string }
			if err := json.Unmarshal(out.Body, &answer); err != nil || answer.ErrorType != "Runtime.InitError" {
				t.Fatalf("answer %q (%v), want the init error document of type Runtime.InitError", out.Body, err)
			}
			for _, want := range tc.reasons {
				if !strings.Contains(answer.ErrorMessage, want) {
					t.Fatalf("the init error %q lacks the reason %q", answer.ErrorMessage, want)
				}
			}
			if strings.Contains(string(out.Body), demoapi.ClientSecret) {
				t.Fatal("the answer holds the secret")
			}
			fn.Stop()
			logs, _ := e.pipe.Logs(tc.service)
			if !initFailed.MatchString(logs) {
				t.Fatalf("the emulator's log lacks the init failure:\n%s", tail(logs, 3000))
			}
			for _, want := range tc.reasons {
				if !strings.Contains(logs, want) {
					t.Fatalf("the log lacks the reason %q:\n%s", want, tail(logs, 3000))
				}
			}
			if strings.Contains(logs, demoapi.ClientSecret) {
				t.Fatal("the log holds the secret")
			}
		})
	}
}

// A fetcher Lambda that dies mid-fetch does not block its input for the
// fetch queue's visibility timeout (6 × the function's timeout on AWS: 90
// minutes for the fetcher): the function keeps its message hidden for
// SLUICE_VISIBILITY at a time while it handles it, so the message of a
// dead sandbox is back within that, waits out the run's lease, and the
// fetch restarts as the next attempt — with nobody acting, about one
// lease after the crash. The queue's visibility timeout here is 5
// minutes; the run must be SUCCEEDED long before. (The bootstrap is
// stopped, SIGSTOP, which to the queue is a crash: nothing more comes from
// it; the emulator kills it at its timeout.)
func TestFetcherOnLambdaCrashedIsTakenUpWithinALease(t *testing.T) {
	t.Parallel()
	const timeout, queueVisibility = 5 * time.Second, 5 * time.Minute
	e := start(t, setup{api: slowOrders, stack: devstack.Options{VisibilityTimeout: queueVisibility},
		env: []string{"SLUICE_MAX_MESSAGE_BYTES=32768", "SLUICE_LEASE=6s", "SLUICE_HEARTBEAT=2s", "SLUICE_HANDOFF_MARGIN=1s", "SLUICE_VISIBILITY=2s"}, noStart: true})
	res := e.stack.Resources
	fn, first := e.stallFetcherFunction(timeout, "2026-11-15")
	if !first.inv.TimedOut {
		t.Fatalf("first invocation: status %d %q, want the emulator's timeout", first.inv.Status, first.inv.Body)
	}
	crashed := time.Now().Add(-timeout) // stalled about when the invocation began, at most its timeout ago

	// Back within SLUICE_VISIBILITY of the stall; then its redelivery waits
	// out the lease (about 6s from the last heartbeat) and restarts.
	patience := e.timing.afterCrash(10 * time.Second)
	if patience >= queueVisibility/2 {
		t.Fatalf("patience %v is not well under the queue's visibility timeout %v: the test would prove nothing", patience, queueVisibility)
	}
	deadline := time.Now().Add(patience)
	for {
		if r, err := e.runs.Get(context.Background(), "orders/2026-11-15"); err == nil && r.Status == runs.Succeeded {
			break
		}
		if time.Now().After(deadline) {
			r, err := e.runs.Get(context.Background(), "orders/2026-11-15")
			t.Fatalf("run not taken up again %v after the crash (the queue's visibility timeout is %v): %+v (%v)\n%s",
				patience, queueVisibility, r, err, e.where())
		}
		e.deliver(fn, res.Fetch.URL, 1, time.Second)
	}
	r := e.waitRuns(e.timing.within(time.Second), "orders/2026-11-15")[0]
	if r.Attempt != 2 {
		t.Fatalf("attempt %d, want 2 (the crashed try was the first)", r.Attempt)
	}
	e.checkPartition(r)
	t.Logf("crash to SUCCEEDED: at most %v (lease 6s, SLUICE_VISIBILITY 2s, the queue's visibility timeout %v)",
		time.Since(crashed).Round(100*time.Millisecond), queueVisibility)
}

// stallFetcherFunction starts dedupe, the writer and the fetcher as a
// function with timeout, sends the input of orders for window, stops
// (SIGSTOP) the function's bootstrap once the run is RUNNING — the fetch
// has begun and takes about 2s from there — and returns the function and
// the delivery of the fetch message it stalled on.
func (e *env) stallFetcherFunction(timeout time.Duration, window string) (*localrun.Function, delivery) {
	e.t.Helper()
	for _, name := range []string{"dedupe", "writer"} {
		if _, err := e.pipe.Start(name); err != nil {
			e.t.Fatal(err)
		}
	}
	fn := e.startFunction("fetcher", timeout)
	e.send(e.stack.Resources.Inputs.URL, e.input("orders", window))

	stalled := make(chan error, 1)
	go func() {
		deadline := time.Now().Add(e.timing.within(5 * time.Second))
		for time.Now().Before(deadline) {
			if r, err := e.runs.Get(context.Background(), "orders/"+window); err == nil && r.Status == runs.Running {
				stalled <- fn.Stall()
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		stalled <- context.DeadlineExceeded
	}()
	first, ok := e.deliver(fn, e.stack.Resources.Fetch.URL, 1, 20*time.Second)
	if !ok {
		e.t.Fatal("no fetch message")
	}
	if err := <-stalled; err != nil {
		e.t.Fatalf("stall the bootstrap: %v", err)
	}
	return fn, first
}
