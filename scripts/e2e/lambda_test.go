package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sluice-data/sluice/scripts/localrun"
	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/contracts"
)

// startLambda runs the named service binary on its Lambda transport
// against a stand-in Runtime API.
func (e *env) startLambda(name string) *localrun.LambdaRuntime {
	e.t.Helper()
	rt, err := localrun.StartLambdaRuntime()
	if err != nil {
		e.t.Fatal(err)
	}
	proc, err := e.pipe.Start(name, "SLUICE_TRANSPORT=lambda", "AWS_LAMBDA_RUNTIME_API="+rt.Addr())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		proc.Kill() // Lambda freezes and kills its runtimes; so do we
		rt.Close()
	})
	return rt
}

// sqsEvent receives n messages from url and wraps them as Lambda's event
// source mapping would.
func (e *env) sqsEvent(url string, n int) events.SQSEvent {
	e.t.Helper()
	var ev events.SQSEvent
	deadline := time.Now().Add(10 * time.Second)
	for len(ev.Records) < n && time.Now().Before(deadline) {
		out, err := e.stack.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: int32(n - len(ev.Records)), WaitTimeSeconds: 1, VisibilityTimeout: 120,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, m := range out.Messages {
			ev.Records = append(ev.Records, events.SQSMessage{
				MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body),
				Attributes: m.Attributes, EventSource: "aws:sqs", EventSourceARN: "arn:aws:sqs:us-east-1:000000000000:local", AWSRegion: "us-east-1",
			})
		}
	}
	if len(ev.Records) != n {
		e.t.Fatalf("received %d messages, want %d", len(ev.Records), n)
	}
	return ev
}

func (e *env) invoke(rt *localrun.LambdaRuntime, payload any) localrun.Result {
	e.t.Helper()
	body, err := json.Marshal(payload)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := rt.Invoke(ctx, body, 20*time.Second)
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

// The dedupe binary on its Lambda transport: one good input, a duplicate
// of it and a malformed message in one SQS event. The reply reports no
// batch item failure (the duplicate is dropped, the malformed message
// parked), one Fetch is handed on, and the malformed message is in the DLQ.
func TestDedupeOnLambdaAnswersTheBatchPartially(t *testing.T) {
	t.Parallel()
	e := start(t, setup{noStart: true})
	res := e.stack.Resources
	e.send(res.Inputs.URL, e.input("orders", "2026-11-09"), e.input("orders", "2026-11-09"), `{"v":1,"kind":"input"`)
	rt := e.startLambda("dedupe")

	out := e.invoke(rt, e.sqsEvent(res.Inputs.URL, 3))
	if out.IsError {
		t.Fatalf("function error: %s", out.Body)
	}
	var reply events.SQSEventResponse
	if err := json.Unmarshal(out.Body, &reply); err != nil {
		t.Fatalf("reply %s: %v", out.Body, err)
	}
	if len(reply.BatchItemFailures) != 0 {
		t.Fatalf("batch item failures %v, want none", reply.BatchItemFailures)
	}
	fetches := e.drain(res.Fetch.URL, 2, 3*time.Second)
	if len(fetches) != 1 {
		t.Fatalf("%d fetch messages, want 1 (the duplicate loses its claim)", len(fetches))
	}
	f, err := contracts.DecodeFetch([]byte(aws.ToString(fetches[0].Body)))
	if err != nil || f.Key() != "orders/2026-11-09" || f.Attempt != 1 {
		t.Fatalf("fetch = %+v, %v", f, err)
	}
	parked := e.drain(res.Inputs.DLQURL, 1, 10*time.Second)
	if len(parked) != 1 || !strings.Contains(aws.ToString(parked[0].MessageAttributes[consumer.AttrError].StringValue), "not valid JSON") {
		t.Fatalf("DLQ = %v, want the malformed message with its reason", parked)
	}
	logs, _ := e.pipe.Logs("dedupe")
	if !strings.Contains(logs, `"msg":"claimed"`) || !strings.Contains(logs, `"run_id":"`+f.RunID+`"`) {
		t.Fatalf("dedupe log lacks the claim with its run id:\n%s", tail(logs, 2000))
	}
}

// The scheduler binary on Lambda, invoked by an EventBridge scheduled
// event, publishes the latest complete day of every source.
func TestSchedulerOnLambdaTakesAScheduledEvent(t *testing.T) {
	t.Parallel()
	e := start(t, setup{noStart: true})
	rt := e.startLambda("scheduler")
	out := e.invoke(rt, map[string]any{
		"version": "0", "id": "evt-1", "detail-type": "Scheduled Event", "source": "aws.events", "account": "000000000000",
		"time": "2026-11-24T00:15:00Z", "region": "us-east-1", "resources": []string{"arn:aws:events:us-east-1:000000000000:rule/sluice"}, "detail": map[string]any{},
	})
	if out.IsError {
		t.Fatalf("function error: %s", out.Body)
	}
	msgs := e.drain(e.stack.Resources.Inputs.URL, 3, 10*time.Second)
	var keys []string
	for _, m := range msgs {
		in, err := contracts.DecodeInput([]byte(aws.ToString(m.Body)))
		if err != nil || in.Trigger != contracts.TriggerSchedule {
			t.Fatalf("input %s: %v", aws.ToString(m.Body), err)
		}
		keys = append(keys, in.Key())
	}
	slices.Sort(keys)
	if want := []string{"customers/2026-11-23", "events/2026-11-23", "orders/2026-11-23"}; !slices.Equal(keys, want) {
		t.Fatalf("inputs %v, want %v", keys, want)
	}
}

// The fetcher binary on Lambda with a 6-second invocation limit, fetching
// an input that takes longer: each invocation hands over before its
// deadline (checkpoint in the run record, continuation message), the next
// invocation goes on from there, and the partition ends exactly the API's.
func TestFetcherOnLambdaHandsOverBeforeItsDeadline(t *testing.T) {
	t.Parallel()
	e := start(t, setup{api: slowOrders, env: []string{"SLUICE_HANDOFF_MARGIN=4500ms", "SLUICE_MAX_MESSAGE_BYTES=32768"}, noStart: true})
	res := e.stack.Resources
	for _, name := range []string{"dedupe", "writer"} {
		if _, err := e.pipe.Start(name); err != nil {
			t.Fatal(err)
		}
	}
	rt := e.startLambda("fetcher")
	e.send(res.Inputs.URL, e.input("orders", "2026-11-13"))

	invocations := 0
	deadline := time.Now().Add(60 * time.Second)
	for {
		if r, err := e.runs.Get(context.Background(), "orders/2026-11-13"); err == nil && r.BatchesExpected != nil {
			break // the last invocation sent the Done, and the writer has it
		}
		if time.Now().After(deadline) {
			t.Fatalf("no Done after %d invocations", invocations)
		}
		got, err := e.stack.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(res.Fetch.URL), MaxNumberOfMessages: 1, WaitTimeSeconds: 1, VisibilityTimeout: 120,
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Messages) == 0 {
			continue
		}
		m := got.Messages[0]
		ev := events.SQSEvent{Records: []events.SQSMessage{{
			MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body),
			Attributes: map[string]string{"ApproximateReceiveCount": "1"}, EventSource: "aws:sqs",
		}}}
		body, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		invocations++
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := rt.Invoke(ctx, body, 6*time.Second)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		var reply events.SQSEventResponse
		if out.IsError || json.Unmarshal(out.Body, &reply) != nil || len(reply.BatchItemFailures) != 0 {
			t.Fatalf("invocation %d: %s", invocations, out.Body)
		}
		// Lambda deletes what the reply does not report as failed.
		if _, err := e.stack.SQS.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(res.Fetch.URL), ReceiptHandle: m.ReceiptHandle}); err != nil {
			t.Fatal(err)
		}
	}
	r := e.waitRuns(30*time.Second, "orders/2026-11-13")[0]
	if invocations < 2 || r.Attempt != 1 {
		t.Fatalf("%d invocations, attempt %d: want a hand-over within one attempt", invocations, r.Attempt)
	}
	e.checkPartition(r)
	t.Logf("%d invocations of at most 6s for a fetch of about 2s of pages", invocations)
}
