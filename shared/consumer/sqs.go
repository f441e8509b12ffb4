package consumer

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sluice-data/sluice/shared/backoff"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/logging"
)

// Message attributes set on a parked message, so that whoever reads the DLQ
// sees why it is there without the logs.
const (
	AttrError      = "sluice-error"
	AttrErrorClass = "sluice-error-class"
	AttrFailedAt   = "sluice-failed-at"
	AttrReceives   = "sluice-receive-count"
	maxErrorAttr   = 1024
	callTimeout    = 10 * time.Second
)

// SQSAPI is the part of the SQS client the consumer uses.
type SQSAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

var _ SQSAPI = (*sqs.Client)(nil)

// Queue is one SQS queue and its dead-letter queue, as a consumer uses them.
type Queue struct {
	API    SQSAPI
	URL    string
	DLQURL string
	// RetryBase and RetryMax bound the exponential backoff before a failed
	// message is received again (base · 2^(receives-1) with jitter, capped at RetryMax).
	RetryBase, RetryMax time.Duration
}

var _ Parker = (*Queue)(nil)

// Park sends m to the DLQ with the cause as attributes. The caller deletes
// the original once Park succeeded.
func (q *Queue) Park(ctx context.Context, m Message, cause error) error {
	if q.DLQURL == "" {
		return fmt.Errorf("park message %s: no DLQ configured", m.ID)
	}
	attrs := map[string]types.MessageAttributeValue{
		AttrError:      stringAttr(logging.Truncate(cause.Error(), maxErrorAttr)),
		AttrErrorClass: stringAttr(fault.ClassOf(cause).String()),
		AttrFailedAt:   stringAttr(time.Now().UTC().Format(time.RFC3339)),
		AttrReceives:   {DataType: aws.String("Number"), StringValue: aws.String(strconv.Itoa(m.ReceiveCount))},
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	defer cancel()
	_, err := q.API.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:          aws.String(q.DLQURL),
		MessageBody:       aws.String(string(m.Body)),
		MessageAttributes: attrs,
	})
	if err != nil {
		return fmt.Errorf("park message %s: %w", m.ID, err)
	}
	return nil
}

// Delete removes m from the queue.
func (q *Queue) Delete(ctx context.Context, m Message) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	defer cancel()
	_, err := q.API.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q.URL), ReceiptHandle: aws.String(m.ReceiptHandle)})
	if err != nil {
		return fmt.Errorf("delete message %s: %w", m.ID, err)
	}
	return nil
}

// Backoff makes m visible again after the retry backoff for its receive
// count, instead of after the queue's full visibility timeout — or after
// the wait the handler asked for (after > 0), rounded up to whole seconds
// and capped at SQS's 12 hours.
func (q *Queue) Backoff(ctx context.Context, m Message, after time.Duration) error {
	if after > 0 {
		return q.setVisibility(ctx, m, min(after+time.Second-1, 12*time.Hour).Truncate(time.Second))
	}
	if q.RetryBase <= 0 {
		return nil
	}
	return q.setVisibility(ctx, m, RetryDelay(q.RetryBase, q.RetryMax, m.ReceiveCount))
}

func (q *Queue) setVisibility(ctx context.Context, m Message, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	defer cancel()
	_, err := q.API.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl:          aws.String(q.URL),
		ReceiptHandle:     aws.String(m.ReceiptHandle),
		VisibilityTimeout: int32(d / time.Second),
	})
	if err != nil {
		return fmt.Errorf("change visibility of message %s: %w", m.ID, err)
	}
	return nil
}

// RetryDelay is base·2^(receives-1) plus up to 20% jitter, capped at max
// (jitter included: max is a promise to whoever sets it), in whole seconds
// (SQS's unit).
func RetryDelay(base, max time.Duration, receives int) time.Duration {
	d := backoff.Spread(backoff.Exponential(base, max, receives))
	if max > 0 && d > max {
		d = max
	}
	if d < time.Second {
		d = time.Second
	}
	return d.Truncate(time.Second)
}

func stringAttr(s string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(s)}
}
