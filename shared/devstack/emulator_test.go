package devstack_test

// These tests pin the emulator behaviour Sluice relies on, so that an
// emulator upgrade that changes it fails here rather than in a service test.

import (
	"context"
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
	// On a loaded, long-lived stack a receive here answered empty about
	// once in 40 while the message went in flight: a lost receive
	// response, the thing issue 15 is about. So receive as the poller does:
	// with a short visibility timeout of its own, again until the message
	// comes, within a deadline derived from it.
	const visibility = 2 * time.Second
	deadline := time.Now().Add(3*visibility + 10*time.Second)
	var got []string
	for len(got) == 0 && time.Now().Before(deadline) {
		out, err := s.SQS.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: url, WaitTimeSeconds: 2, VisibilityTimeout: int32(visibility / time.Second)})
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		for _, m := range out.Messages {
			got = append(got, aws.ToString(m.Body))
		}
	}
	if len(got) != 1 || len(got[0]) != maxMessageBytes {
		t.Errorf("receive of the 1 MiB message: %d messages", len(got))
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

// Gaps of fauxqs 1.9.2 (pinned in scripts/emulators/package.json) that
// Sluice works around. Each case asserts the emulator's answer as it is, not
// as AWS's would be, so that an upgrade that closes or changes a gap fails
// here, naming the workaround to revisit, instead of passing unnoticed.
func TestSQSKnownGaps(t *testing.T) {
	t.Parallel()
	s := devstacktest.Start(t, devstack.Options{})
	inputs := aws.String(s.Resources.Inputs.URL)
	dlqARN := queueAttributes(t, s, s.Resources.Inputs.DLQURL)["QueueArn"]
	tests := []struct {
		name       string
		call       func(ctx context.Context) error
		want       string // fauxqs's error code; "" for no error
		aws        string // what AWS answers
		workaround string
	}{
		{
			name: "DeleteMessage with a bogus receipt handle",
			call: func(ctx context.Context) error {
				_, err := s.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: inputs, ReceiptHandle: aws.String("not-a-receipt-handle")})
				return err
			},
			want: "", aws: "ReceiptHandleIsInvalid",
			workaround: "no test relies on the error (README, known emulator gaps)",
		},
		{
			name: "ChangeMessageVisibility with a bogus receipt handle",
			call: func(ctx context.Context) error {
				_, err := s.SQS.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
					QueueUrl: inputs, ReceiptHandle: aws.String("not-a-receipt-handle"), VisibilityTimeout: 5,
				})
				return err
			},
			want: "AWS.SimpleQueueService.MessageNotInflight", aws: "ReceiptHandleIsInvalid",
			workaround: "no code matches on the error code",
		},
		{
			name: "StartMessageMoveTask (DLQ redrive)",
			call: func(ctx context.Context) error {
				_, err := s.SQS.StartMessageMoveTask(ctx, &sqs.StartMessageMoveTaskInput{SourceArn: aws.String(dlqARN)})
				return err
			},
			want: "InvalidAction", aws: "a move task handle",
			workaround: "sluicectl redrive falls back to a client-side move (its tests expect the fallback)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(t.Context())
			var apiErr smithy.APIError
			got := ""
			if err != nil {
				if !errors.As(err, &apiErr) {
					t.Fatalf("%s: %v, not an SQS error", tt.name, err)
				}
				got = apiErr.ErrorCode()
			}
			if got != tt.want {
				t.Errorf("%s: %s, want fauxqs's known gap %q (AWS: %s). If the emulator changed, revisit the workaround: %s",
					tt.name, errCode(err), tt.want, tt.aws, tt.workaround)
			}
		})
	}
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
