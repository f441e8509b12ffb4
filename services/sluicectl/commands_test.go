package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/devstack/devstacktest"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/runs"
)

func setup(t *testing.T) *devstacktest.Stack {
	t.Helper()
	st := devstacktest.Start(t, devstack.Options{})
	for _, kv := range append(devstack.Env(st.Endpoints), st.Resources.Env()...) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	usePipeline(t, demoapi.PipelineYAML("http://api.test", nil))
	return st
}

// usePipeline writes a pipeline config and points SLUICE_PIPELINE_FILE at it.
func usePipeline(t *testing.T, yaml string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "pipeline.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLUICE_PIPELINE_FILE", file)
	return file
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
	// The day an hour from now: today's, unless midnight is that close.
	soon := time.Now().UTC() // today is the window that has not ended (a test run across midnight is the one race left)
	today, tomorrow, nextYear := soon.Format(time.DateOnly), soon.AddDate(0, 0, 1).Format(time.DateOnly), soon.AddDate(1, 0, 0).Format(time.DateOnly)
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
		// dedupe would park it: a window fetched before it ends would be
		// marked done, and its scheduled run dropped as a duplicate.
		{"trigger refuses a window that has not ended before sending", []string{"trigger", "--source", "orders", "--window", today, "--force"}, "",
			"orders/" + today + " ends " + tomorrow + "T00:00:00Z and can be fetched from " + tomorrow + "T00:00:00Z", nil},
		{"trigger refuses next year's window before sending", []string{"trigger", "--source", "orders", "--window", nextYear}, "", "not due yet", nil},
		{"trigger refuses an unknown source before sending", []string{"trigger", "--source", "ghost", "--window", "2026-11-01"}, "", `unknown source "ghost"`, nil},
		{"schedule refuses a range reaching a window that has not ended", []string{"schedule", "--sources", "orders", "--from", "2026-11-01", "--to", tomorrow}, "",
			"orders/" + today + " ends " + tomorrow + "T00:00:00Z and can be fetched from " + tomorrow + "T00:00:00Z", nil},
		{"schedule refuses an unknown source before sending", []string{"schedule", "--sources", "orders,ghost"}, "", `unknown source "ghost"`, nil},
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
	for _, url := range []string{st.Resources.Inputs.URL, st.Resources.Triggers.URL} {
		if extra := receive(t, st, url, 1, 2*time.Second); len(extra) != 0 {
			t.Fatalf("refused commands sent %v", extra)
		}
	}
}

func sendAll(t *testing.T, st *devstacktest.Stack, url string, bodies ...string) {
	t.Helper()
	for _, b := range bodies {
		if _, err := st.SQS.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
}

// moved returns N from the "moved N messages" line of redrive's output.
func moved(t *testing.T, out string) int {
	t.Helper()
	m := regexp.MustCompile(`moved (\d+) messages?`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no \"moved N messages\" in output %q", out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// fauxqs lacks StartMessageMoveTask: redrive must say so and move the
// messages itself.
func TestRedriveFallsBackToClientMove(t *testing.T) {
	st := setup(t)
	sendAll(t, st, st.Resources.Inputs.DLQURL, "one", "two", "three")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"redrive", "--queue", "inputs"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "falling back to client-side move") || moved(t, out.String()) != 3 {
		t.Fatalf("output = %q", out.String())
	}
	if got := receive(t, st, st.Resources.Inputs.URL, 3, 10*time.Second); len(got) != 3 {
		t.Fatalf("%d messages back on the queue, want 3", len(got))
	}
	if left := receive(t, st, st.Resources.Inputs.DLQURL, 1, time.Second); len(left) != 0 {
		t.Fatalf("DLQ still holds %v", left)
	}
}

func TestRedriveMaxMovesAtMostMax(t *testing.T) {
	st := setup(t)
	sendAll(t, st, st.Resources.Inputs.DLQURL, "1", "2", "3", "4", "5")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"redrive", "--queue", "inputs", "--max", "2"}, &out); err != nil {
		t.Fatal(err)
	}
	if n := moved(t, out.String()); n != 2 {
		t.Fatalf("moved %d, want 2; output %q", n, out.String())
	}
	if got := receive(t, st, st.Resources.Inputs.URL, 3, time.Second); len(got) != 2 {
		t.Fatalf("%d messages on the queue, want 2", len(got))
	}
	if left := receive(t, st, st.Resources.Inputs.DLQURL, 4, time.Second); len(left) != 3 {
		t.Fatalf("%d messages left in the DLQ, want 3", len(left))
	}
}

// With services running, a message that fails again is parked straight
// back into the DLQ as a new message. The client-side move must still end,
// after at most the messages the DLQ held when it started.
func TestRedriveMoveEndsWhileMessagesAreParkedAgain(t *testing.T) {
	st := setup(t)
	const initial = 4
	sendAll(t, st, st.Resources.Inputs.DLQURL, "a", "b", "c", "d")

	parkCtx, stopParking := context.WithCancel(context.Background())
	parked := make(chan int)
	go func() { // a service that fails every message permanently
		n := 0
		defer func() { parked <- n }()
		for parkCtx.Err() == nil {
			res, err := st.SQS.ReceiveMessage(parkCtx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(st.Resources.Inputs.URL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
			if err != nil {
				continue
			}
			for _, m := range res.Messages {
				if _, err := st.SQS.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(st.Resources.Inputs.DLQURL), MessageBody: m.Body}); err != nil {
					t.Error(err)
				}
				if _, err := st.SQS.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(st.Resources.Inputs.URL), ReceiptHandle: m.ReceiptHandle}); err != nil {
					t.Error(err)
				}
				n++
			}
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, []string{"redrive", "--queue", "inputs"}, &out)
	stopParking()
	n := <-parked
	if err != nil {
		t.Fatalf("redrive did not end: %v; output %q", err, out.String())
	}
	if got := moved(t, out.String()); got < 1 || got > initial {
		t.Fatalf("moved %d, want 1…%d; output %q", got, initial, out.String())
	}
	t.Logf("%s(the parking service re-parked %d)", out.String(), n)
}

// A Fetch, Batch or Done in the DLQ carries a stale attempt: redrive sends
// one new Input per run instead of moving the messages back, and deletes
// the messages once dedupe has claimed their inputs.
func TestRedriveFetchRetriggersInputs(t *testing.T) {
	st := setup(t)
	fetch := func(window string, attempt int) string {
		b, err := json.Marshal(contracts.NewFetch(contracts.Run{Source: "orders", Window: window, RunID: "r" + window, Attempt: attempt}, contracts.TriggerSchedule))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// A damaged batch (no payload) still names its run.
	batch := `{"v":1,"kind":"batch","source":"orders","window":"2026-11-01","run_id":"r1","attempt":1,"seq":3}`
	garbage := "not a sluice message"
	sendAll(t, st, st.Resources.Fetch.DLQURL, fetch("2026-11-01", 1), fetch("2026-11-02", 2), batch, garbage)

	store, err := runs.New(st.DynamoDB, runs.Config{Table: st.Resources.Table})
	if err != nil {
		t.Fatal(err)
	}
	asked := fakeDedupe(t, st, store)
	var out bytes.Buffer
	if err := run(context.Background(), []string{"redrive", "--queue", "fetch", "--wait", "30s"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"redrive fetch: 4 DLQ messages (2 inputs): 3 deleted, 1 kept",
		"deleted, re-triggered and claimed anew: orders/2026-11-01 (attempt 1), orders/2026-11-02 (attempt 1)",
		"kept 1 message: not a Sluice run message",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	keys := asked()
	slices.Sort(keys)
	if want := []string{"orders/2026-11-01", "orders/2026-11-02"}; !slices.Equal(keys, want) {
		t.Fatalf("inputs re-triggered = %v, want %v", keys, want)
	}
	if got := receive(t, st, st.Resources.Fetch.URL, 1, time.Second); len(got) != 0 {
		t.Fatalf("messages moved back to the fetch queue: %v", got)
	}
	if left := receive(t, st, st.Resources.Fetch.DLQURL, 2, time.Second); !slices.Equal(left, []string{garbage}) {
		t.Fatalf("DLQ holds %q, want only the garbage", left)
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

func TestRunsHistoryAndRelease(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	store, err := runs.New(st.DynamoDB, runs.Config{Table: st.Resources.Table, Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	r, err := store.Claim(ctx, runs.ClaimRequest{Source: "orders", Window: "2026-11-01", Trigger: "manual", MessageID: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Start(ctx, r.Ref(), "f"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		wantErr error
		want    []string // substrings of the output
	}{
		{"release refuses a live lease", []string{"release", "orders/2026-11-01"}, runs.ErrLeaseLive, nil},
		{"release needs an input", []string{"release", "--force"}, nil, nil},
		{"release --force after the input", []string{"release", "orders/2026-11-01", "--force", "--reason", "API maintenance"}, nil,
			[]string{"released orders/2026-11-01: attempt 1 is FAILED (API maintenance)", "as attempt 2"}},
		{"release of a finished run", []string{"release", "--force", "orders/2026-11-01"}, runs.ErrNotLive, nil},
		{"runs shows the attempts", []string{"runs", "orders/2026-11-01"}, nil,
			[]string{"orders/2026-11-01: FAILED, attempt 1", "ATTEMPT", "released: API maintenance"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(ctx, tt.args, &out)
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
			case tt.want == nil:
				if err == nil {
					t.Fatal("want an error")
				}
			case err != nil:
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Fatalf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
	if next, err := store.Claim(ctx, runs.ClaimRequest{Source: "orders", Window: "2026-11-01", Trigger: "manual", MessageID: "m2"}); err != nil || next.Attempt != 2 {
		t.Fatalf("claim after release = %+v, %v", next, err)
	}
}

// A COMMITTING run may publish at any moment: release refuses it, --force
// or not, and says why; the run is left as it was.
func TestReleaseRefusesACommittingRun(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	store, err := runs.New(st.DynamoDB, runs.Config{Table: st.Resources.Table, Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	r, err := store.Claim(ctx, runs.ClaimRequest{Source: "orders", Window: "2026-11-01", Trigger: "manual", MessageID: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Start(ctx, r.Ref(), "f"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.SetTotals(ctx, r.Ref(), 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	if _, won, err := store.BeginCommit(ctx, r.Ref()); err != nil || !won {
		t.Fatalf("begin commit = %v, %v", won, err)
	}
	var out bytes.Buffer
	err = run(ctx, []string{"release", "--force", "orders/2026-11-01"}, &out)
	if !errors.Is(err, runs.ErrCommitting) || !strings.Contains(err.Error(), "may publish at any moment") {
		t.Fatalf("release --force of a COMMITTING run = %v, want it refused with the reason", err)
	}
	if cur, err := store.Get(ctx, "orders/2026-11-01"); err != nil || cur.Status != runs.Committing || cur.Attempt != r.Attempt {
		t.Fatalf("run after the refused release = %+v, %v", cur, err)
	}
}

func TestTriggerSaysWhatDedupeWillDo(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	store, err := runs.New(st.DynamoDB, runs.Config{Table: st.Resources.Table})
	if err != nil {
		t.Fatal(err)
	}
	r, err := store.Claim(ctx, runs.ClaimRequest{Source: "orders", Window: "2026-11-02", Trigger: "manual", MessageID: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Start(ctx, r.Ref(), "f"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.SetTotals(ctx, r.Ref(), 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.BeginCommit(ctx, r.Ref()); err != nil {
		t.Fatal(err)
	}
	if _, err := store.FinishCommit(ctx, r.Ref(), 0); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		note bool
	}{
		{[]string{"trigger", "--source", "orders", "--window", "2026-11-02"}, true},
		{[]string{"trigger", "--source", "orders", "--window", "2026-11-02", "--force"}, false},
	} {
		var out bytes.Buffer
		if err := run(ctx, tt.args, &out); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(out.String(), "already SUCCEEDED"); got != tt.note {
			t.Fatalf("%v: output %q, want the SUCCEEDED note: %v", tt.args, out.String(), tt.note)
		}
	}
}

func TestBackfill(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	// orders' first window is 2026-10-01.
	file := usePipeline(t, strings.Replace(demoapi.PipelineYAML("http://api.test", []string{"orders"}), "every: day\n", "every: day\n      start: 2026-10-01\n", 1))
	cfg, err := pipeline.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	days := []string{"orders/2026-11-01", "orders/2026-11-02", "orders/2026-11-03"}
	// The day an hour from now: today's, unless midnight is that close.
	soon := time.Now().UTC() // today is the window that has not ended (a test run across midnight is the one race left)
	today, tomorrow := soon.Format(time.DateOnly), soon.AddDate(0, 0, 1).Format(time.DateOnly)
	tests := []struct {
		name      string
		args      []string
		wantErr   string
		want      []string // the input keys of the trigger sent
		wantForce bool
		wantOut   string
	}{
		{name: "one input per day", args: []string{"--source", "orders", "--from", "2026-11-01", "--to", "2026-11-04"},
			want: days, wantOut: "backfill of orders: trigger sent to the scheduler for 3 inputs (2026-11-01 … 2026-11-03)\n"},
		{name: "forced", args: []string{"--source", "orders", "--from", "2026-11-01", "--to", "2026-11-04", "--force"},
			want: days, wantForce: true},
		{name: "dry run prints the inputs, sends nothing", args: []string{"--source", "orders", "--from", "2026-11-01", "--to", "2026-11-04", "--dry-run"},
			wantOut: strings.Join(days, "\n") + "\n3 windows; nothing sent (--dry-run)\n"},
		{name: "unknown source", args: []string{"--source", "ghost", "--from", "2026-11-01", "--to", "2026-11-04"}, wantErr: `unknown source "ghost"`},
		{name: "reversed range", args: []string{"--source", "orders", "--from", "2026-11-04", "--to", "2026-11-01"}, wantErr: "not after"},
		// The scheduler's bound, refused here before anything is sent.
		{name: "too many windows", args: []string{"--source", "orders", "--from", "1990-01-01", "--to", "2026-11-01"}, wantErr: "more than 10000 inputs, the limit (split the range)"},
		{name: "missing flags", args: []string{"--source", "orders"}, wantErr: "required"},
		// The scheduler would expand it, and dedupe would park the windows
		// that have not ended.
		{name: "a range reaching a window that has not ended", args: []string{"--source", "orders", "--from", "2026-11-01", "--to", tomorrow},
			wantErr: "orders/" + today + " ends " + tomorrow + "T00:00:00Z and can be fetched from " + tomorrow + "T00:00:00Z"},
		{name: "a range of next year", args: []string{"--source", "orders", "--from", soon.AddDate(1, 0, 0).Format(time.DateOnly), "--to", soon.AddDate(1, 0, 2).Format(time.DateOnly), "--dry-run"},
			wantErr: "not due yet"},
		{name: "a range from before the source's start", args: []string{"--source", "orders", "--from", "2026-09-29", "--to", "2026-10-03"},
			wantErr: "orders/2026-09-29 is before the source's first window 2026-10-01 (partition.start)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(ctx, append([]string{"backfill"}, tt.args...), &out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantOut != "" && out.String() != tt.wantOut {
				t.Fatalf("output %q, want %q", out.String(), tt.wantOut)
			}
			if tt.want == nil {
				return
			}
			bodies := receive(t, st, st.Resources.Triggers.URL, 1, 5*time.Second)
			if len(bodies) != 1 {
				t.Fatalf("%d messages on the triggers queue, want 1", len(bodies))
			}
			tr, err := contracts.DecodeTrigger([]byte(bodies[0]))
			if err != nil || tr.Trigger != contracts.TriggerBackfill || tr.Force != tt.wantForce || !slices.Equal(tr.Sources, []string{"orders"}) {
				t.Fatalf("trigger %s: %+v, %v; want a backfill of orders, force %v", bodies[0], tr, err, tt.wantForce)
			}
			// The inputs the scheduler expands it into.
			inputs, err := cfg.Expand(tr.Sources, tr.From, tr.To, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, in := range inputs {
				got = append(got, contracts.InputKey(in.Source, in.Window))
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("the trigger sent asks for %v, want %v (output %q)", got, tt.want, out.String())
			}
		})
	}
	for _, url := range []string{st.Resources.Triggers.URL, st.Resources.Inputs.URL} {
		if extra := receive(t, st, url, 1, 2*time.Second); len(extra) != 0 {
			t.Fatalf("unexpected messages %v", extra)
		}
	}
}
