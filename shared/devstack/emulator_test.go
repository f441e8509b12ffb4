package devstack_test

// These tests pin the emulator behaviour Sluice relies on, so that an
// emulator upgrade that changes it fails here rather than in a service test.

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/devstack/devstacktest"
)

// SQS's limit (since 2025) and the fetcher's batch budget.
const maxMessageBytes = 1 << 20

func TestSQSLongPolling(t *testing.T) {
	t.Parallel()
	s := devstacktest.Start(t, devstack.Options{})
	url := aws.String(s.Resources.Triggers.URL)
	ctx := t.Context()

	start := time.Now()
	out, err := s.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, WaitTimeSeconds: 1})
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	if len(out.Messages) != 0 || time.Since(start) < 900*time.Millisecond {
		t.Errorf("empty long poll returned %d messages after %s, want none after ~1s", len(out.Messages), time.Since(start))
	}

	// A message sent during the wait ends it early.
	go func() {
		time.Sleep(300 * time.Millisecond)
		_, _ = s.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: url, MessageBody: aws.String("late")})
	}()
	start = time.Now()
	out, err = s.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, WaitTimeSeconds: 5})
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	if len(out.Messages) != 1 || time.Since(start) > 3*time.Second {
		t.Errorf("long poll returned %d messages after %s, want 1 soon after the send", len(out.Messages), time.Since(start))
	}
}

func TestSQSMessageSizeLimit(t *testing.T) {
	t.Parallel()
	s := devstacktest.Start(t, devstack.Options{})
	url := aws.String(s.Resources.Batches.URL)
	tests := []struct {
		name    string
		size    int
		wantErr bool
	}{
		{"exactly 1 MiB", maxMessageBytes, false},
		{"1 MiB and a byte", maxMessageBytes + 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.SQS.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: url, MessageBody: aws.String(strings.Repeat("x", tt.size))})
			if (err != nil) != tt.wantErr {
				t.Errorf("send %d bytes: %v, want error %v", tt.size, err, tt.wantErr)
			}
		})
	}
	out, err := s.SQS.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: url})
	if err != nil || len(out.Messages) != 1 || len(aws.ToString(out.Messages[0].Body)) != maxMessageBytes {
		t.Errorf("receive of the 1 MiB message: %d messages, err %v", len(out.Messages), err)
	}
}

func TestSQSBatchesAndVisibility(t *testing.T) {
	t.Parallel()
	s := devstacktest.Start(t, devstack.Options{})
	url := aws.String(s.Resources.Fetch.URL)
	ctx := t.Context()

	sent, err := s.SQS.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: url, Entries: []sqstypes.SendMessageBatchRequestEntry{
		{Id: aws.String("a"), MessageBody: aws.String("1")},
		{Id: aws.String("b"), MessageBody: aws.String("2")},
		{Id: aws.String("c"), MessageBody: aws.String("3")},
	}})
	if err != nil || len(sent.Successful) != 3 {
		t.Fatalf("send batch: %v, %+v", err, sent)
	}
	got, err := s.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
	if err != nil || len(got.Messages) != 3 {
		t.Fatalf("receive: %v, %d messages, want 3", err, len(got.Messages))
	}

	// Visibility 0 makes a message receivable again at once (a handler's
	// "retry now"); the others stay hidden for the queue's 30s.
	if _, err := s.SQS.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: url, ReceiptHandle: got.Messages[0].ReceiptHandle, VisibilityTimeout: 0,
	}); err != nil {
		t.Fatalf("change visibility: %v", err)
	}
	again, err := s.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
	if err != nil || len(again.Messages) != 1 || aws.ToString(again.Messages[0].MessageId) != aws.ToString(got.Messages[0].MessageId) {
		t.Fatalf("receive after visibility 0: %v, %d messages, want the first one back", err, len(again.Messages))
	}

	del, err := s.SQS.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: url, Entries: []sqstypes.DeleteMessageBatchRequestEntry{
		{Id: aws.String("a"), ReceiptHandle: again.Messages[0].ReceiptHandle},
		{Id: aws.String("b"), ReceiptHandle: got.Messages[1].ReceiptHandle},
		{Id: aws.String("c"), ReceiptHandle: got.Messages[2].ReceiptHandle},
	}})
	if err != nil || len(del.Successful) != 3 {
		t.Fatalf("delete batch: %v, %+v", err, del)
	}
}

// Gaps of fauxqs 1.9.2: the tests log them instead of failing, so that an
// emulator that closes a gap does not break the build.
func TestSQSKnownGaps(t *testing.T) {
	t.Parallel()
	s := devstacktest.Start(t, devstack.Options{})
	ctx := t.Context()

	_, err := s.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{
		QueueUrl: aws.String(s.Resources.Inputs.URL), ReceiptHandle: aws.String("not-a-receipt-handle"),
	})
	t.Logf("DeleteMessage with a bogus receipt handle: %v (AWS: ReceiptHandleIsInvalid)", errCode(err))

	_, err = s.SQS.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(s.Resources.Inputs.URL), ReceiptHandle: aws.String("not-a-receipt-handle"), VisibilityTimeout: 5,
	})
	t.Logf("ChangeMessageVisibility with a bogus receipt handle: %v (AWS: ReceiptHandleIsInvalid)", errCode(err))

	attrs := queueAttributes(t, s, s.Resources.Inputs.DLQURL)
	_, err = s.SQS.StartMessageMoveTask(ctx, &sqs.StartMessageMoveTaskInput{SourceArn: aws.String(attrs["QueueArn"])})
	t.Logf("StartMessageMoveTask (DLQ redrive): %v", errCode(err))
}

func errCode(err error) string {
	if err == nil {
		return "no error"
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode() + ": " + apiErr.ErrorMessage()
	}
	return err.Error()
}
