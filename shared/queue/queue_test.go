package queue

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sluice-data/sluice/shared/fault"
)

// fakeSQS records batch calls, fails each entry whose body is in failOnce
// the first time it is sent, and rejects each entry whose body is in
// reject as the sender's fault (as SQS does for an invalid body).
type fakeSQS struct {
	calls    [][]string
	failOnce map[string]bool
	reject   map[string]bool
	sent     []string
	delays   []int32 // DelaySeconds of each SendMessage
}

func (f *fakeSQS) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	f.sent = append(f.sent, aws.ToString(in.MessageBody))
	f.delays = append(f.delays, in.DelaySeconds)
	return &sqs.SendMessageOutput{}, nil
}

func (f *fakeSQS) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	var call []string
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		body := aws.ToString(e.MessageBody)
		call = append(call, body)
		if f.reject[body] {
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InvalidMessageContents"), Message: aws.String("invalid character"), SenderFault: true})
			continue
		}
		if f.failOnce[body] {
			delete(f.failOnce, body)
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), Message: aws.String("try again")})
			continue
		}
		f.sent = append(f.sent, body)
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id})
	}
	f.calls = append(f.calls, call)
	return out, nil
}

func TestSendBatchChunksAndRetriesFailedEntries(t *testing.T) {
	tests := []struct {
		name      string
		bodies    [][]byte
		failOnce  []string
		wantCalls int
	}{
		{"25 small in 3 calls", repeat("m", 25, 10), nil, 3},
		{"size limit splits", repeat("big", 3, 400_000), nil, 2},
		{"failed entry is resent alone", repeat("m", 4, 10), []string{"m2" + strings.Repeat("x", 8)}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeSQS{failOnce: map[string]bool{}}
			for _, b := range tt.failOnce {
				f.failOnce[b] = true
			}
			if err := NewPublisher(f).SendBatch(context.Background(), "q", tt.bodies); err != nil {
				t.Fatal(err)
			}
			if len(f.calls) != tt.wantCalls {
				t.Fatalf("%d calls, want %d", len(f.calls), tt.wantCalls)
			}
			if len(f.sent) != len(tt.bodies) {
				t.Fatalf("sent %d, want %d", len(f.sent), len(tt.bodies))
			}
			for _, c := range f.calls {
				size := 0
				for _, b := range c {
					size += len(b)
				}
				if len(c) > MaxBatchEntries || size > MaxMessageBytes {
					t.Fatalf("call over limits: %d entries, %d bytes", len(c), size)
				}
			}
		})
	}
}

func TestSendBatchClassifiesWhatIsLeft(t *testing.T) {
	bodies := make([][]byte, 25) // three chunks: 10, 10, 5
	for i := range bodies {
		bodies[i] = []byte(strconv.Itoa(i))
	}
	tests := []struct {
		name          string
		reject        []string // rejected as the sender's fault, every time
		failAlways    bool     // every entry fails with a server error, every time
		wantPermanent bool
	}{
		{"an entry the sender got wrong is permanent", []string{string(bodies[12])}, false, true},
		{"a server failure that outlasts the retries is retryable", nil, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeSQS{failOnce: map[string]bool{}, reject: map[string]bool{}}
			for _, b := range tt.reject {
				f.reject[b] = true
			}
			api := API(f)
			if tt.failAlways {
				api = alwaysFailing{f}
			}
			err := NewPublisher(api).SendBatch(context.Background(), "q", bodies)
			if err == nil {
				t.Fatal("SendBatch = nil, want an error")
			}
			if got := fault.IsPermanent(err); got != tt.wantPermanent {
				t.Fatalf("SendBatch = %v (class %v), want permanent %v", err, fault.ClassOf(err), tt.wantPermanent)
			}
			if !tt.wantPermanent && fault.ClassOf(err) != fault.Retry {
				t.Fatalf("SendBatch = %v (class %v), want retryable", err, fault.ClassOf(err))
			}
			if tt.wantPermanent && len(f.sent) != len(bodies)-len(tt.reject) {
				t.Fatalf("sent %d of %d; the other chunks must still be sent", len(f.sent), len(bodies))
			}
		})
	}
}

// alwaysFailing fails every entry of every batch call with a server error.
type alwaysFailing struct{ *fakeSQS }

func (a alwaysFailing) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	for _, e := range in.Entries {
		a.failOnce[aws.ToString(e.MessageBody)] = true
	}
	return a.fakeSQS.SendMessageBatch(ctx, in, opts...)
}

func TestSendRejectsOversize(t *testing.T) {
	err := NewPublisher(&fakeSQS{}).Send(context.Background(), "q", make([]byte, MaxMessageBytes+1))
	if !fault.IsPermanent(err) {
		t.Fatalf("err = %v, want permanent", err)
	}
}

func repeat(prefix string, n, size int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		b := []byte(prefix + string(rune('0'+i%10)))
		for len(b) < size {
			b = append(b, 'x')
		}
		out[i] = b
	}
	return out
}

func TestSendJSONAfterDelaysTheMessage(t *testing.T) {
	tests := []struct {
		name  string
		delay time.Duration
		want  int32
	}{
		{"none", 0, 0},
		{"whole seconds", 3 * time.Second, 3},
		{"a part of a second rounds up", 1500 * time.Millisecond, 2},
		{"capped at SQS's 15 minutes", time.Hour, 900},
		{"negative is none", -time.Second, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &fakeSQS{}
			if err := NewPublisher(api).SendJSONAfter(context.Background(), "q", map[string]int{"a": 1}, tt.delay); err != nil {
				t.Fatal(err)
			}
			if len(api.delays) != 1 || api.delays[0] != tt.want || api.sent[0] != `{"a":1}` {
				t.Fatalf("sent %v with DelaySeconds %v, want one message delayed %d", api.sent, api.delays, tt.want)
			}
		})
	}
}
