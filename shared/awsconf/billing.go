package awsconf

import (
	"context"
	"maps"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/middleware"
)

// SQSChunk is the payload SQS bills as one request: every started 64 KiB
// of a call's payload (message bodies and attributes, sent or received)
// is one billed request, and a call is at least one.
const SQSChunk = 64 << 10

// EmptyReceive is the key under which SQSBilled counts receives that
// returned no message (a long poll that timed out): billed like any call,
// but a cost of keeping a queue polled, not of the data.
const EmptyReceive = "SQS.ReceiveMessage.empty"

// SQSBilled returns the SQS requests as AWS bills them, by
// "SQS.Operation", one count per call (a retried call is billed once
// here, and once per attempt in Counts); receives that returned nothing
// are counted under EmptyReceive instead of SQS.ReceiveMessage.
func (r *Requests) SQSBilled() map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.billed)
}

// SQSPayload returns the payload bytes the SQS calls carried, by
// "SQS.Operation": what SQSBilled is computed from.
func (r *Requests) SQSPayload() map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.payload)
}

func (r *Requests) bill(key string, payload int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.billed == nil {
		r.billed, r.payload = map[string]int64{}, map[string]int64{}
	}
	r.billed[key] += max(1, (payload+SQSChunk-1)/SQSChunk)
	r.payload[key] += payload
}

// billing records each SQS call's payload once, from its typed input and
// output: it sits in the initialize step, before the retry loop.
func (r *Requests) billing(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("sluice-sqs-billing",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleInitialize(ctx, in)
			if awsmiddleware.GetServiceID(ctx) != "SQS" {
				return out, md, err
			}
			key := "SQS." + awsmiddleware.GetOperationName(ctx)
			payload, empty := sqsPayload(in.Parameters, out.Result)
			if empty && err == nil {
				key = EmptyReceive
			}
			r.bill(key, payload)
			return out, md, err
		}), middleware.After)
}

// sqsPayload is the billed payload of one SQS call, and whether it was a
// receive that returned no message.
func sqsPayload(params, result any) (payload int64, emptyReceive bool) {
	switch p := params.(type) {
	case *sqs.SendMessageInput:
		return int64(len(deref(p.MessageBody))) + attrBytes(p.MessageAttributes), false
	case *sqs.SendMessageBatchInput:
		for _, e := range p.Entries {
			payload += int64(len(deref(e.MessageBody))) + attrBytes(e.MessageAttributes)
		}
		return payload, false
	}
	if out, ok := result.(*sqs.ReceiveMessageOutput); ok {
		for _, m := range out.Messages {
			payload += int64(len(deref(m.Body))) + attrBytes(m.MessageAttributes)
		}
		return payload, len(out.Messages) == 0
	}
	return 0, false
}

// attrBytes is the size SQS counts for message attributes: name, type and
// value of each.
func attrBytes(attrs map[string]types.MessageAttributeValue) int64 {
	var n int64
	for name, v := range attrs {
		n += int64(len(name) + len(deref(v.DataType)) + len(deref(v.StringValue)) + len(v.BinaryValue))
	}
	return n
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
