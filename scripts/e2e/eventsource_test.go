package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sluice-data/sluice/scripts/localrun"
)

// What Lambda's SQS event source mapping does around a function, done by
// the test: receive a batch, invoke with it, delete what the partial
// batch response does not report as failed.

// batchReply decodes a successful invocation's partial batch response.
func batchReply(t *testing.T, inv localrun.Invocation) events.SQSEventResponse {
	t.Helper()
	var reply events.SQSEventResponse
	if inv.Failed || inv.TimedOut {
		t.Fatalf("invocation failed (status %d, timed out %v): %s", inv.Status, inv.TimedOut, inv.Body)
	}
	if err := json.Unmarshal(inv.Body, &reply); err != nil {
		t.Fatalf("reply %s: %v", inv.Body, err)
	}
	return reply
}

func failedIDs(reply events.SQSEventResponse) []string {
	ids := []string{}
	for _, f := range reply.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	slices.Sort(ids)
	return ids
}

// receive takes up to max messages from url with the queue's own
// visibility timeout, as the event source mapping does, waiting up to
// wait for the first.
func (e *env) receive(url string, max int, wait time.Duration) []sqstypes.Message {
	e.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		out, err := e.stack.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: int32(max), WaitTimeSeconds: 1,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
			MessageAttributeNames:       []string{"All"},
		})
		if err != nil {
			e.t.Fatal(err)
		}
		if len(out.Messages) > 0 || time.Now().After(deadline) {
			return out.Messages
		}
	}
}

// sqsEvent wraps messages as Lambda's event source mapping does.
func sqsEvent(msgs []sqstypes.Message) events.SQSEvent {
	var ev events.SQSEvent
	for _, m := range msgs {
		attrs := map[string]events.SQSMessageAttribute{}
		for k, v := range m.MessageAttributes {
			attrs[k] = events.SQSMessageAttribute{StringValue: v.StringValue, DataType: aws.ToString(v.DataType)}
		}
		ev.Records = append(ev.Records, events.SQSMessage{
			MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body),
			Attributes: m.Attributes, MessageAttributes: attrs, Md5OfBody: aws.ToString(m.MD5OfBody),
			EventSource: "aws:sqs", EventSourceARN: "arn:aws:sqs:us-east-1:000000000000:local", AWSRegion: "us-east-1",
		})
	}
	return ev
}

// delivery is one turn of the event source mapping: the event it built
// and what the function answered.
type delivery struct {
	event events.SQSEvent
	inv   localrun.Invocation
}

// deliver does what Lambda's event source mapping does for the queue at
// url: receive a batch (up to max), invoke the function with it, and
// delete the messages the answer does not report as failed. An error
// answer or a timeout deletes nothing: the whole batch comes back after
// the visibility timeout. No message within wait: no invocation (ok false).
func (e *env) deliver(fn *localrun.Function, url string, max int, wait time.Duration) (d delivery, ok bool) {
	e.t.Helper()
	msgs := e.receive(url, max, wait)
	if len(msgs) == 0 {
		return d, false
	}
	d.event = sqsEvent(msgs)
	d.inv = e.invoke(fn, mustJSON(e.t, d.event))
	var reply events.SQSEventResponse
	if d.inv.Failed || d.inv.TimedOut || json.Unmarshal(d.inv.Body, &reply) != nil {
		return d, true
	}
	failed := failedIDs(reply)
	for _, m := range msgs {
		if _, found := slices.BinarySearch(failed, aws.ToString(m.MessageId)); found {
			continue
		}
		if _, err := e.stack.SQS.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
			e.t.Fatal(err)
		}
	}
	return d, true
}
