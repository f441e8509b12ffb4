// Package queue publishes messages to SQS: one at a time, or many with
// SendMessageBatch in chunks that respect SQS's limits (10 entries and
// 1 MiB of bodies per call), retrying the entries a batch call reports as
// failed instead of failing or resending the whole batch.
package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sluice-data/sluice/shared/awsconf"
	"github.com/sluice-data/sluice/shared/fault"
)

// SQS limits.
const (
	MaxBatchEntries = 10
	MaxMessageBytes = 1 << 20 // 1 MiB, for one message and for one batch call
)

// MaxDelay is the longest DelaySeconds SQS allows on a message.
const MaxDelay = 15 * time.Minute

const (
	entryRetries = 3
)

// API is the part of the SQS client the publisher uses.
type API interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

var _ API = (*sqs.Client)(nil)

// Publisher sends messages to SQS queues.
type Publisher struct {
	api API
}

// NewPublisher returns a Publisher over api.
func NewPublisher(api API) *Publisher { return &Publisher{api: api} }

// Send sends one message body to the queue at url. Errors are retryable,
// except a body over the size limit, which no retry can fix. body must
// not be modified until Send returns; Send keeps nothing of it after.
func (p *Publisher) Send(ctx context.Context, url string, body []byte) error {
	return p.send(ctx, url, body, 0)
}

// SendJSON marshals v and sends it.
func (p *Publisher) SendJSON(ctx context.Context, url string, v any) error {
	return p.SendJSONAfter(ctx, url, v, 0)
}

// SendJSONAfter marshals v and sends it, visible to receivers only after
// delay (SQS DelaySeconds, whole seconds rounded up, at most MaxDelay).
func (p *Publisher) SendJSONAfter(ctx context.Context, url string, v any, delay time.Duration) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fault.Permanent(fmt.Errorf("encode message: %w", err))
	}
	return p.send(ctx, url, body, delay)
}

func (p *Publisher) send(ctx context.Context, url string, body []byte, delay time.Duration) error {
	if len(body) > MaxMessageBytes {
		return fault.Permanentf("send to %s: message of %d bytes is over the %d-byte limit", url, len(body), MaxMessageBytes)
	}
	ctx, cancel := context.WithTimeout(ctx, awsconf.CallTimeout)
	defer cancel()
	secs := int32((min(max(delay, 0), MaxDelay) + time.Second - 1) / time.Second)
	_, err := p.api.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: messageBody(body), DelaySeconds: secs})
	if err != nil {
		return fault.Retryable(fmt.Errorf("send to %s: %w", url, err))
	}
	return nil
}

// messageBody is body as the SDK's *string, sharing body's memory rather
// than copying it (string(body): up to 1 MiB a batch). This is safe because
// the string is read only while SendMessage runs, and body does not change
// then: the SDK serializes MessageBody into the request's own buffer (a
// JSON string, escaped) and checks the MD5 SQS answers against it
// (cust_checksum_validation.go), both within the call, and keeps nothing of
// the input after it returns, not even in its errors (they name the MD5s);
// send's callers do not modify body until it returns (Send's contract; a
// change during the call would race with a copy just the same).
func messageBody(body []byte) *string {
	s := unsafe.String(unsafe.SliceData(body), len(body))
	return &s
}

// SendBatch sends all bodies to the queue at url, as few SendMessageBatch
// calls as the limits allow. Entries that SQS reports as failed are sent
// again, up to a few times; what still fails is returned as one error
// naming how many messages were not sent. That error is permanent if SQS
// blamed the sender for any entry (no retry can send it), and retryable
// otherwise. Chunks are sent even after one of them failed.
func (p *Publisher) SendBatch(ctx context.Context, url string, bodies [][]byte) error {
	for i, b := range bodies {
		if len(b) > MaxMessageBytes {
			return fault.Permanentf("send batch to %s: message %d of %d bytes is over the %d-byte limit", url, i, len(b), MaxMessageBytes)
		}
	}
	var (
		errs      []error
		permanent bool
	)
	for start := 0; start < len(bodies); {
		end, size := start, 0
		for end < len(bodies) && end-start < MaxBatchEntries && size+len(bodies[end]) <= MaxMessageBytes {
			size += len(bodies[end])
			end++
		}
		if err := p.sendChunk(ctx, url, bodies[start:end]); err != nil {
			errs = append(errs, err)
			permanent = permanent || fault.IsPermanent(err)
		}
		start = end
	}
	err := errors.Join(errs...)
	switch {
	case err == nil:
		return nil
	case permanent:
		// An entry SQS refused as the sender's fault fails the same way on
		// every try, so the whole call is permanent, whatever the others.
		return fault.Permanent(fmt.Errorf("send batch to %s: %w", url, err))
	default:
		return fault.Retryable(fmt.Errorf("send batch to %s: %w", url, err))
	}
}

func (p *Publisher) sendChunk(ctx context.Context, url string, bodies [][]byte) error {
	pending := make(map[string][]byte, len(bodies))
	for i, b := range bodies {
		pending[strconv.Itoa(i)] = b
	}
	var lastErr error
	for try := 0; try < entryRetries && len(pending) > 0; try++ {
		entries := make([]types.SendMessageBatchRequestEntry, 0, len(pending))
		for id, b := range pending {
			entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(id), MessageBody: aws.String(string(b))})
		}
		cctx, cancel := context.WithTimeout(ctx, awsconf.CallTimeout)
		out, err := p.api.SendMessageBatch(cctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: entries})
		cancel()
		if err != nil {
			lastErr = err
			continue
		}
		for _, ok := range out.Successful {
			delete(pending, aws.ToString(ok.Id))
		}
		for _, f := range out.Failed {
			lastErr = fmt.Errorf("entry failed: %s: %s", aws.ToString(f.Code), aws.ToString(f.Message))
			if f.SenderFault { // the request itself is wrong; retrying cannot help
				return fault.Permanent(lastErr)
			}
		}
	}
	if len(pending) > 0 {
		return fmt.Errorf("%d of %d messages not sent: %w", len(pending), len(bodies), lastErr)
	}
	return nil
}
