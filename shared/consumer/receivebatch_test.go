package consumer

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"go.uber.org/zap"
)

// askingSQS records how many messages each receive asks for, and has none.
type askingSQS struct {
	SQSAPI
	mu     sync.Mutex
	asked  []int32
	cancel context.CancelFunc
}

func (a *askingSQS) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.asked = append(a.asked, in.MaxNumberOfMessages)
	if len(a.asked) == 3 {
		a.cancel()
	}
	return &sqs.ReceiveMessageOutput{}, nil
}

// A receive asks for as many messages as there are free workers, but no
// more than ReceiveBatch (a queue of large messages is received one at a
// time, so that the SDK's decoding of a response stays at one message).
func TestPollerAsksForAtMostReceiveBatch(t *testing.T) {
	tests := []struct {
		name                  string
		workers, receiveBatch int
		want                  int32
	}{
		{"free workers", 5, 10, 5},
		{"one at a time", 5, 1, 1},
		{"the batch below the workers", 8, 3, 3},
		{"never more than SQS's 10", 20, 10, 10},
		{"unset: 10", 20, 0, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			api := &askingSQS{cancel: cancel}
			cfg := DefaultConfig()
			cfg.Workers, cfg.ReceiveBatch, cfg.PollWait = tt.workers, tt.receiveBatch, time.Second
			if err := NewPoller(&Queue{API: api, URL: "http://sqs.test/q"}, cfg, zap.NewNop(), HandlerFunc(func(context.Context, Message) error { return nil }), nil).Run(ctx); err != nil {
				t.Fatal(err)
			}
			api.mu.Lock()
			defer api.mu.Unlock()
			if len(api.asked) != 3 {
				t.Fatalf("the poller made %d receives before it was stopped, want 3", len(api.asked))
			}
			for _, n := range api.asked {
				if n != tt.want {
					t.Fatalf("receives asked for %v messages, want %d each", api.asked, tt.want)
				}
			}
		})
	}
}
