package consumer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/logging"
)

func TestGiveUp(t *testing.T) {
	boom := errors.New("boom")
	type gaveUp struct {
		class string
		cause error
		live  bool // the context passed was not cancelled
	}
	tests := []struct {
		name     string
		err      error // what the handler returns
		last     bool  // Message.Last
		final    bool  // Message.Final
		register bool  // the handler registers a GiveUpFunc
		fate     Fate  // what the GiveUpFunc finds
		giveErr  error // what the GiveUpFunc returns
		want     []gaveUp
		wantErr  string // "nil", "same" (the handler's error unchanged), "parked" (permanent, retries exhausted)
		wantWarn bool
		wantDrop bool // logged as deleted: its work is done or taken over
	}{
		{name: "success", err: nil, last: true, register: true, wantErr: "nil"},
		{name: "dropped (a fenced run: the handler returns nil)", err: nil, last: true, register: true, wantErr: "nil"},
		{name: "permanent on the first delivery", err: fault.Permanent(boom), register: true,
			want: []gaveUp{{ClassPermanent, boom, true}}, wantErr: "same"},
		{name: "permanent on the last delivery is still permanent", err: fault.Permanent(boom), last: true, register: true,
			want: []gaveUp{{ClassPermanent, boom, true}}, wantErr: "same"},
		{name: "permanent of superseded work is still parked", err: fault.Permanent(boom), last: true, register: true, fate: Superseded,
			want: []gaveUp{{ClassPermanent, boom, true}}, wantErr: "same"},
		{name: "retryable with deliveries left", err: fault.Retryable(boom), register: true, wantErr: "same"},
		{name: "unclassified with deliveries left", err: boom, register: true, wantErr: "same"},
		{name: "retryable on the last delivery, work unfinished: parked with its reason", err: fault.Retryable(boom), last: true, register: true,
			want: []gaveUp{{ClassRetriesExhausted, boom, true}}, wantErr: "parked"},
		{name: "unclassified on the last delivery, work unfinished: parked", err: boom, last: true, register: true,
			want: []gaveUp{{ClassRetriesExhausted, boom, true}}, wantErr: "parked"},
		{name: "retryable on the last delivery, work superseded: deleted", err: fault.Retryable(boom), last: true, register: true, fate: Superseded,
			want: []gaveUp{{ClassRetriesExhausted, boom, true}}, wantErr: "nil", wantDrop: true},
		{name: "last delivery, nothing registered (the message never named its work): parked", err: boom, last: true, wantErr: "parked"},
		{name: "nothing registered (the message never named its work)", err: fault.Permanent(boom), last: true, wantErr: "same"},
		{name: "giving up fails: logged, the error still returned", err: fault.Permanent(boom), register: true,
			giveErr: errors.New("dynamodb down"), want: []gaveUp{{ClassPermanent, boom, true}}, wantErr: "same", wantWarn: true},
		{name: "giving up fails on the last delivery acted on: left for the queue's own last", err: boom, last: true, register: true, fate: Superseded,
			giveErr: errors.New("dynamodb down"), want: []gaveUp{{ClassRetriesExhausted, boom, true}}, wantErr: "same", wantWarn: true},
		{name: "giving up fails on the queue's own last delivery: taken as unfinished, parked", err: boom, last: true, final: true, register: true, fate: Superseded,
			giveErr: errors.New("dynamodb down"), want: []gaveUp{{ClassRetriesExhausted, boom, true}}, wantErr: "parked", wantWarn: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []gaveUp
			// The message's context is over by the time the handler
			// returns (a deadline, a shutdown): giving up must not be.
			ctx, cancel := context.WithCancel(context.Background())
			core, logs := observer.New(zap.DebugLevel)
			ctx, _ = logging.WithScope(ctx, zap.New(core))
			h := HandlerFunc(func(ctx context.Context, m Message) error {
				if tt.register {
					OnGiveUp(ctx, func(ctx context.Context, class string, cause error) (Fate, error) {
						got = append(got, gaveUp{class, cause, ctx.Err() == nil})
						return tt.fate, tt.giveErr
					})
				}
				cancel()
				return tt.err
			})
			err := GiveUp(h).Handle(ctx, Message{ID: "m", ReceiveCount: 3, Last: tt.last, Final: tt.final})
			switch tt.wantErr {
			case "nil":
				if err != nil {
					t.Fatalf("GiveUp returned %v, want nil (the message deleted)", err)
				}
			case "same":
				if err != tt.err {
					t.Fatalf("GiveUp returned %v, want the handler's error %v unchanged", err, tt.err)
				}
			case "parked":
				if !fault.IsPermanent(err) || !errors.Is(err, ErrRetriesExhausted) || !errors.Is(err, boom) ||
					parkClass(err) != ClassRetriesExhausted || !strings.Contains(err.Error(), "receive 3") {
					t.Fatalf("GiveUp returned %v (class %s), want a permanent error, retries exhausted on receive 3, wrapping %v",
						err, parkClass(err), boom)
				}
			default:
				t.Fatalf("bad wantErr %q", tt.wantErr)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("gave up %d times (%v), want %d", len(got), got, len(tt.want))
			}
			for i, w := range tt.want {
				if got[i].class != w.class || !errors.Is(got[i].cause, w.cause) || got[i].live != w.live {
					t.Fatalf("gave up with %+v, want %+v", got[i], w)
				}
			}
			if warned := logs.FilterMessageSnippet("could not give up").Len() == 1; warned != tt.wantWarn {
				t.Fatalf("warned: %v, want %v; logged %v", warned, tt.wantWarn, logs.All())
			}
			if dropped := logs.FilterMessageSnippet("message deleted").Len() == 1; dropped != tt.wantDrop {
				t.Fatalf("logged as deleted: %v, want %v; logged %v", dropped, tt.wantDrop, logs.All())
			}
		})
	}
}

// OnGiveUp outside the middleware (a handler called directly) does
// nothing, and the last registration wins inside it.
func TestOnGiveUpRegistration(t *testing.T) {
	OnGiveUp(context.Background(), func(context.Context, string, error) (Fate, error) {
		t.Fatal("called outside the middleware")
		return Unfinished, nil
	})
	var called string
	h := HandlerFunc(func(ctx context.Context, m Message) error {
		OnGiveUp(ctx, func(context.Context, string, error) (Fate, error) { called = "first"; return Unfinished, nil })
		OnGiveUp(ctx, func(context.Context, string, error) (Fate, error) { called = "second"; return Unfinished, nil })
		return fault.Permanentf("bad")
	})
	_ = GiveUp(h).Handle(context.Background(), Message{ID: "m"})
	if called != "second" {
		t.Fatalf("called %q, want the last registration", called)
	}
}

func TestLastDelivery(t *testing.T) {
	tests := []struct {
		receives, maxReceive int
		want                 bool
	}{
		{1, 5, false},
		{3, 5, false},
		{4, 5, true}, // one before the queue's last: a process dying on it leaves one more delivery to act on
		{5, 5, true}, // the queue's last: acted on too
		{6, 5, true}, // past the last: still the last SQS will hand out
		{1, 3, false},
		{2, 3, true},
		{1, 2, true},
		{1, 1, true},
		{9, 0, false}, // unknown maxReceiveCount: never the last
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d of %d", tt.receives, tt.maxReceive), func(t *testing.T) {
			if got := last(tt.receives, tt.maxReceive); got != tt.want {
				t.Fatalf("last(%d, %d) = %v, want %v", tt.receives, tt.maxReceive, got, tt.want)
			}
		})
	}
}

func TestParseMaxReceive(t *testing.T) {
	tests := []struct {
		name, policy string
		want         int
		wantErr      bool
	}{
		{"number (AWS, fauxqs)", `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:q-dlq","maxReceiveCount":7}`, 7, false},
		{"string of a number", `{"deadLetterTargetArn":"arn","maxReceiveCount":"3"}`, 3, false},
		{"no count", `{"deadLetterTargetArn":"arn"}`, 0, true},
		{"zero", `{"maxReceiveCount":0}`, 0, true},
		{"not JSON", `maxReceiveCount=5`, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMaxReceive(tt.policy)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Fatalf("parseMaxReceive = %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
