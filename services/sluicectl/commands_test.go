package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/devstack/devstacktest"
	"github.com/sluice-data/sluice/shared/runs"
)

func setup(t *testing.T) *devstacktest.Stack {
	t.Helper()
	st := devstacktest.Start(t, devstack.Options{})
	for _, kv := range append(devstack.Env(st.Endpoints), st.Resources.Env()...) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return st
}

func receive(t *testing.T, st *devstacktest.Stack, url string, want int, timeout time.Duration) []string {
	t.Helper()
	var bodies []string
	deadline := time.Now().Add(timeout)
	for len(bodies) < want && time.Now().Before(deadline) {
		out, err := st.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			bodies = append(bodies, aws.ToString(m.Body))
		}
	}
	return bodies
}

func TestTriggerAndSchedule(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	tests := []struct {
		name    string
		args    []string
		queue   string
		wantErr string
		check   func(t *testing.T, body string)
	}{
		{"trigger sends an input", []string{"trigger", "--source", "orders", "--window", "2026-11-01", "--force"}, st.Resources.Inputs.URL, "",
			func(t *testing.T, body string) {
				in, err := contracts.DecodeInput([]byte(body))
				if err != nil || in.Key() != "orders/2026-11-01" || !in.Force || in.Trigger != contracts.TriggerManual {
					t.Fatalf("input = %+v, %v", in, err)
				}
			}},
		{"trigger refuses a bad window before sending", []string{"trigger", "--source", "orders", "--window", "yesterday"}, "", "window", nil},
		{"schedule sends a trigger", []string{"schedule", "--sources", "orders,events", "--from", "2026-11-01", "--to", "2026-11-03"}, st.Resources.Triggers.URL, "",
			func(t *testing.T, body string) {
				tr, err := contracts.DecodeTrigger([]byte(body))
				if err != nil || len(tr.Sources) != 2 || tr.To.Sub(tr.From) != 48*time.Hour {
					t.Fatalf("trigger = %+v, %v", tr, err)
				}
			}},
		{"schedule refuses a reversed range", []string{"schedule", "--from", "2026-11-03", "--to", "2026-11-01"}, "", "not before", nil},
		{"unknown command", []string{"launch"}, "", "unknown command", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(ctx, tt.args, &out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			bodies := receive(t, st, tt.queue, 1, 10*time.Second)
			if len(bodies) != 1 {
				t.Fatalf("%d messages on the queue, want 1", len(bodies))
			}
			tt.check(t, bodies[0])
		})
	}
	// Nothing was sent by the refused commands.
	if extra := receive(t, st, st.Resources.Inputs.URL, 1, 2*time.Second); len(extra) != 0 {
		t.Fatalf("refused commands sent %v", extra)
	}
}

// fauxqs lacks StartMessageMoveTask: redrive must say so and move the
// messages itself.
func TestRedriveFallsBackToClientMove(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	for _, b := range []string{"one", "two", "three"} {
		if _, err := st.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(st.Resources.Fetch.DLQURL), MessageBody: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	if err := run(ctx, []string{"redrive", "--queue", "fetch"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "falling back to client-side move") || !strings.Contains(out.String(), "moved 3 messages") {
		t.Fatalf("output = %q", out.String())
	}
	if got := receive(t, st, st.Resources.Fetch.URL, 3, 10*time.Second); len(got) != 3 {
		t.Fatalf("%d messages back on the queue, want 3", len(got))
	}
	if left := receive(t, st, st.Resources.Fetch.DLQURL, 1, 2*time.Second); len(left) != 0 {
		t.Fatalf("DLQ still holds %v", left)
	}
}

func TestRunsTable(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	store, err := runs.New(st.DynamoDB, runs.Config{Table: st.Resources.Table})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Claim(ctx, runs.ClaimRequest{Source: "orders", Window: "2026-11-01", Trigger: "manual", MessageID: "m"}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(ctx, []string{"runs"}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "INPUT") || !strings.Contains(lines[1], "orders/2026-11-01") || !strings.Contains(lines[1], "CLAIMED") {
		t.Fatalf("runs output:\n%s", out.String())
	}
}
