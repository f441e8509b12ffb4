package main

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sluice-data/sluice/services/scheduler/sweep"
	"github.com/sluice-data/sluice/shared/consumer"
)

type fakeSweeper struct {
	calls int
	rep   sweep.Report
	err   error
}

func (f *fakeSweeper) Sweep(context.Context) (sweep.Report, error) {
	f.calls++
	return f.rep, f.err
}

// The sweep's EventBridge rule (its input, testdata/sweep-event.json)
// runs one sweep and nothing else; a scheduled event never sweeps.
func TestSweepEvent(t *testing.T) {
	now := day(2030, 6, 15).Add(7 * time.Hour)
	tests := []struct {
		name      string
		event     []byte
		err       error
		wantCalls int
		wantErr   bool
	}{
		{"sweep event sweeps", golden(t, "sweep-event.json"), nil, 1, false},
		{"a failed sweep fails the invocation", golden(t, "sweep-event.json"), errors.New("dynamodb: throttled"), 1, true},
		{"a scheduled event does not sweep", golden(t, "scheduled-event.json"), nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zapcore.DebugLevel)
			log := zap.New(core)
			out := &fakeBatchSender{}
			sw := &fakeSweeper{rep: sweep.Report{Expired: 2, TakenUp: 1, GivenUp: 1}, err: tt.err}
			h := newHandler(t, out, now)
			h.sweep = sw
			sqs := func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
				t.Fatal("an EventBridge event went the SQS way")
				return events.SQSEventResponse{}, nil
			}
			resp, err := lambda.NewHandler(consumer.LambdaEvents(log, sqs, h.HandleEvent)).Invoke(context.Background(), tt.event)
			if sw.calls != tt.wantCalls {
				t.Fatalf("swept %d times, want %d", sw.calls, tt.wantCalls)
			}
			if tt.wantErr {
				if err == nil || logs.FilterMessage("event failed").Len() != 1 {
					t.Fatalf("Invoke = %s, %v; want an error, logged once", resp, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantCalls == 0 {
				return
			}
			var rep sweep.Report
			if err := json.Unmarshal(resp, &rep); err != nil || rep != sw.rep {
				t.Fatalf("reply %s (%v), want the sweep's report %+v", resp, err, sw.rep)
			}
			if out.calls != 0 {
				t.Fatalf("a sweep event published %d trigger inputs", out.calls)
			}
		})
	}
}
