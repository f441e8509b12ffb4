package queue_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/devstack/devstacktest"
	"github.com/sluice-data/sluice/shared/queue"
)

// TestSendThroughTheEmulator sends bodies through the real SDK client to
// the local SQS (fauxqs) — Send hands the SDK a string over the body's
// memory, not a copy (messageBody) — and receives them: each arrives
// byte for byte, the SDK's MD5 check of what SQS stored passes, and
// changing the body after Send returned changes nothing sent.
func TestSendThroughTheEmulator(t *testing.T) {
	st := devstacktest.Start(t, devstack.Options{MaxReceiveCount: 5, VisibilityTimeout: time.Minute})
	q, _ := st.Resources.Queue(devstack.Batches)
	p := queue.NewPublisher(st.SQS)
	tests := []struct {
		name string
		body string
	}{
		{"json to escape", `{"a":"quote \" backslash \\ tab` + "\t" + `","b":"Zoë 東京","c":[1,2,3]}`},
		{"almost 1 MiB", strings.Repeat(`{"id":"x","n":12345}`, (queue.MaxMessageBytes-1024)/20)},
		{"one byte", "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			body := []byte(tt.body)
			if err := p.Send(ctx, q.URL, body); err != nil {
				t.Fatalf("send: %v", err)
			}
			for i := range body {
				body[i] = '#'
			}
			deadline := time.Now().Add(30 * time.Second)
			for time.Now().Before(deadline) {
				out, err := st.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.URL), WaitTimeSeconds: 1})
				if err != nil {
					t.Fatalf("receive: %v", err)
				}
				if len(out.Messages) == 0 {
					continue
				}
				m := out.Messages[0]
				if got := aws.ToString(m.Body); !bytes.Equal([]byte(got), []byte(tt.body)) {
					t.Fatalf("received %d bytes %.80q, want %d bytes %.80q", len(got), got, len(tt.body), tt.body)
				}
				if _, err := st.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q.URL), ReceiptHandle: m.ReceiptHandle}); err != nil {
					t.Fatalf("delete: %v", err)
				}
				return
			}
			t.Fatalf("nothing received from %s within 30s", q.URL)
		})
	}
}

// BenchmarkSend is Send of a 1 MiB batch body to an SQS that answers at
// once: the allocations are the SDK's and ours (the body's copy into a
// string was one of them).
func BenchmarkSend(b *testing.B) {
	body := bytes.Repeat([]byte(`{"id":"x","n":12345}`), (queue.MaxMessageBytes-1024)/20)
	p := queue.NewPublisher(discardSQS{})
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Send(context.Background(), "q", body); err != nil {
			b.Fatal(err)
		}
	}
}

type discardSQS struct{ queue.API }

func (discardSQS) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	return &sqs.SendMessageOutput{}, nil
}
