package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/scripts/localrun"
	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/sink"
)

// exact counts the inputs whose partition, read through its pointer,
// holds exactly the API's records — in order, or in any order for a
// source anyOrder names (walked in time slices) — and writes one line to
// report for every other.
func exact(ctx context.Context, s3c *s3.Client, sk *sink.Sink, api *demoapi.Server, anyOrder func(source string) bool, inputs []string, now map[string]runs.Run, report io.Writer) int {
	n := 0
	for _, in := range inputs {
		r, ok := now[in]
		if !ok {
			fmt.Fprintf(report, "chaos: %s: no run\n", in)
			continue
		}
		verify := localrun.Verify
		if anyOrder(r.Source) {
			verify = localrun.VerifyAnyOrder
		}
		if _, err := verify(ctx, s3c, sk, r, api.RecordsFor(r.Source, r.Window)); err != nil {
			fmt.Fprintf(report, "chaos: not exact: %v\n", err)
			continue
		}
		n++
	}
	return n
}

// dlqCount is the messages the four DLQs hold (visible or not).
func dlqCount(ctx context.Context, api *sqs.Client, res devstack.Resources) (int, error) {
	n := 0
	for _, key := range devstack.QueueKeys() {
		out, err := api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(res.DLQFor(key)),
			AttributeNames: []sqstypes.QueueAttributeName{
				sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
			},
		})
		if err != nil {
			return 0, fmt.Errorf("%s DLQ: %w", key, err)
		}
		for _, a := range out.Attributes {
			v, _ := strconv.Atoi(a)
			n += v
		}
	}
	return n, nil
}

// waitDLQsEmpty waits up to grace for the DLQs to empty (the scheduler's
// sweep deletes the messages of runs that need them no more) and returns
// how many messages they still hold.
func waitDLQsEmpty(ctx context.Context, api *sqs.Client, res devstack.Resources, grace time.Duration) (int, error) {
	deadline := time.Now().Add(grace)
	for {
		n, err := dlqCount(ctx, api, res)
		if err != nil || n == 0 || time.Now().After(deadline) {
			return n, err
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// reportDLQs writes one line per message left in a DLQ: the queue, the
// message and its reason (the sluice-error attributes; none when SQS moved
// it itself). It receives each message once and leaves it there.
func reportDLQs(ctx context.Context, api *sqs.Client, res devstack.Resources, report io.Writer) error {
	for _, key := range devstack.QueueKeys() {
		url := res.DLQFor(key)
		for {
			out, err := api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
				QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 300,
				MessageAttributeNames: []string{"All"},
			})
			if err != nil {
				return fmt.Errorf("%s DLQ: %w", key, err)
			}
			if len(out.Messages) == 0 {
				break
			}
			for _, m := range out.Messages {
				reason := "(no reason: moved by SQS's redrive policy)"
				if a, ok := m.MessageAttributes["sluice-error"]; ok {
					reason = aws.ToString(a.StringValue)
					if c, ok := m.MessageAttributes["sluice-error-class"]; ok {
						reason = aws.ToString(c.StringValue) + ": " + reason
					}
				}
				fmt.Fprintf(report, "chaos: dlq_left %s: %s: %s\n", key, localrun.Summary(aws.ToString(m.Body)), reason)
			}
		}
	}
	return nil
}
