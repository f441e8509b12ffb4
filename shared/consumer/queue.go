package consumer

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sluice-data/sluice/shared/awsconf"
	"github.com/sluice-data/sluice/shared/backoff"
	"github.com/sluice-data/sluice/shared/logging"
)

// Message attributes set on a parked message, so that whoever reads the DLQ
// sees why it is there without the logs.
const (
	AttrError      = "sluice-error"
	AttrErrorClass = "sluice-error-class"
	AttrFailedAt   = "sluice-failed-at"
	AttrReceives   = "sluice-receive-count"
	// AttrMessageID is the id of the message as first delivered: a
	// parked copy gets a new id, and the run names the original (its
	// fetch_msg). See OriginalID.
	AttrMessageID = "sluice-message-id"
	maxErrorAttr  = 1024
)

// SQSAPI is the part of the SQS client the consumer uses.
type SQSAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
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
	// MaxReceive is the queue's maxReceiveCount: a message received that
	// many times is on its last delivery (0: unknown, never the last).
	MaxReceive int
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
		AttrErrorClass: stringAttr(parkClass(cause)),
		AttrFailedAt:   stringAttr(time.Now().UTC().Format(time.RFC3339)),
		AttrReceives:   {DataType: aws.String("Number"), StringValue: aws.String(strconv.Itoa(m.ReceiveCount))},
		AttrMessageID:  stringAttr(OriginalID(m)),
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), awsconf.CallTimeout)
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

// OriginalID is the id m had when first delivered: its own, or for a
// parked copy the one Park recorded (AttrMessageID).
func OriginalID(m Message) string {
	if id := m.Attributes[AttrMessageID]; id != "" {
		return id
	}
	return m.ID
}

// Receive waits up to wait (a long poll; at most 20s) for up to n
// messages (at most 10) and hides them for visibility. Messages come with
// their receive count, Last, and their String message attributes. The call
// ends by wait plus awsconf.CallTimeout whatever the server does; ctx may
// end it sooner.
func (q *Queue) Receive(ctx context.Context, n int, wait, visibility time.Duration) ([]Message, error) {
	// A long poll answers within wait; one whose answer never comes (a
	// half-open connection, a stalled server) must not stop the poller.
	ctx, cancel := context.WithTimeout(ctx, wait+awsconf.CallTimeout)
	defer cancel()
	out, err := q.API.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(q.URL),
		MaxNumberOfMessages:         int32(min(n, 10)),
		WaitTimeSeconds:             int32(wait / time.Second),
		VisibilityTimeout:           int32(visibility / time.Second),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		return nil, fmt.Errorf("receive from %s: %w", q.URL, err)
	}
	msgs := make([]Message, 0, len(out.Messages))
	for _, m := range out.Messages {
		msgs = append(msgs, fromSQS(m, q.MaxReceive))
	}
	return msgs, nil
}

func fromSQS(m types.Message, maxReceive int) Message {
	n, _ := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	attrs := make(map[string]string, len(m.MessageAttributes))
	for k, v := range m.MessageAttributes {
		if v.StringValue != nil {
			attrs[k] = *v.StringValue
		}
	}
	return Message{
		ID:            aws.ToString(m.MessageId),
		Body:          []byte(aws.ToString(m.Body)),
		ReceiptHandle: aws.ToString(m.ReceiptHandle),
		ReceiveCount:  n,
		Last:          last(n, maxReceive),
		Final:         final(n, maxReceive),
		Attributes:    attrs,
	}
}

// Release makes m visible again at once, for another consumer to take.
func (q *Queue) Release(ctx context.Context, m Message) error {
	return q.setVisibility(ctx, m, 0)
}

// Delete removes m from the queue.
func (q *Queue) Delete(ctx context.Context, m Message) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), awsconf.CallTimeout)
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
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), awsconf.CallTimeout)
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
