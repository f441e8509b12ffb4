package consumer

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sluice-data/sluice/shared/awsconf"
)

// stalledSQS is an SQS whose receives never answer: a half-open
// connection, a stalled server.
type stalledSQS struct{ SQSAPI }

func (stalledSQS) ReceiveMessage(ctx context.Context, _ *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// A receive whose answer never comes ends by its wait plus the call
// timeout, so that the poller's loop goes on. (Fake time: synctest.)
func TestReceiveThatNeverAnswersEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := &Queue{API: stalledSQS{}, URL: "http://sqs.test/q"}
		const wait = 20 * time.Second
		start := time.Now()
		_, err := q.Receive(context.Background(), 10, wait, 30*time.Second)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Receive = %v, want the call's deadline", err)
		}
		if took := time.Since(start); took != wait+awsconf.CallTimeout {
			t.Fatalf("Receive ended after %v, want %v", took, wait+awsconf.CallTimeout)
		}
	})
}

// sendingSQS records the messages sent.
type sendingSQS struct {
	SQSAPI
	sent []*sqs.SendMessageInput
}

func (s *sendingSQS) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	s.sent = append(s.sent, in)
	return &sqs.SendMessageOutput{}, nil
}

// A parked copy has a new message id; it carries the original's, which a
// copy parked again keeps.
func TestParkKeepsTheOriginalMessageID(t *testing.T) {
	api := &sendingSQS{}
	q := &Queue{API: api, URL: "q", DLQURL: "dlq"}
	for _, tt := range []struct {
		name string
		m    Message
		want string
	}{
		{"a message", Message{ID: "m-1", Body: []byte("{}")}, "m-1"},
		{"a parked copy parked again", Message{ID: "m-2", Body: []byte("{}"), Attributes: map[string]string{AttrMessageID: "m-1"}}, "m-1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := q.Park(context.Background(), tt.m, errors.New("why")); err != nil {
				t.Fatal(err)
			}
			got := api.sent[len(api.sent)-1].MessageAttributes[AttrMessageID]
			if got.StringValue == nil || *got.StringValue != tt.want {
				t.Fatalf("parked with %s = %v, want %s", AttrMessageID, got.StringValue, tt.want)
			}
			if OriginalID(Message{ID: "new", Attributes: map[string]string{AttrMessageID: *got.StringValue}}) != tt.want {
				t.Fatal("OriginalID of the parked copy is not the original's id")
			}
		})
	}
	if OriginalID(Message{ID: "m-3"}) != "m-3" {
		t.Fatal("OriginalID of a message never parked is not its own id")
	}
}
