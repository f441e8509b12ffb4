// Package e2e runs the four services as real processes (local pollers)
// against the local emulators and the demo API, and checks what lands in
// S3 and in the runs table.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/scripts/localrun"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/devstack/devstacktest"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/sink"
)

var (
	repoRoot string
	binDir   string
)

func TestMain(m *testing.M) {
	root, err := devstack.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "sluice-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	err = localrun.Build(ctx, root, dir)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	repoRoot, binDir = root, dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is one test's pipeline: its own queues, table and bucket, its own
// demo API, and the four services running.
type env struct {
	t      *testing.T
	stack  *devstacktest.Stack
	api    *demoapi.Server
	pipe   *localrun.Pipeline
	runs   *runs.Store
	sink   *sink.Sink
	timing timing
}

// serviceDefaults is the services' timing in every test unless its setup
// says otherwise: a 5s poller visibility timeout (the most a lost receive
// response or a crashed poller can hide a message), a 30s lease and a
// retry backoff capped at 10s.
var serviceDefaults = []string{"SLUICE_VISIBILITY=5s", "SLUICE_LEASE=30s", "SLUICE_RETRY_MAX=10s"}

// timing is what a test configured the services with. Every wait of a test
// is derived from it: the work waited for, plus what each configured
// timeout can add to it, plus a margin — never equal to one of them.
type timing struct {
	visibility time.Duration // SLUICE_VISIBILITY: a message hidden by a lost receive, or held by a dead poller, is back after this
	lease      time.Duration // SLUICE_LEASE: a crashed worker's input is free after this
	retryMax   time.Duration // SLUICE_RETRY_MAX: the longest wait before a failed message is received again
}

// margin absorbs a loaded 2-core CI machine.
const margin = 15 * time.Second

// timingOf reads the timing from service environment entries (the last
// entry of a variable wins, as it does for the processes).
func timingOf(t *testing.T, env []string) timing {
	t.Helper()
	var tm timing
	for _, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		var d *time.Duration
		switch name {
		case "SLUICE_VISIBILITY":
			d = &tm.visibility
		case "SLUICE_LEASE":
			d = &tm.lease
		case "SLUICE_RETRY_MAX":
			d = &tm.retryMax
		default:
			continue
		}
		v, err := time.ParseDuration(value)
		if err != nil {
			t.Fatalf("%s: %v", kv, err)
		}
		*d = v
	}
	if tm.visibility == 0 || tm.lease == 0 || tm.retryMax == 0 {
		t.Fatalf("timing %+v: every field must be configured", tm)
	}
	return tm
}

// within is how long to wait for work that takes about work: one lost
// receive (a visibility timeout) and one retry backoff may come on top.
func (tm timing) within(work time.Duration) time.Duration {
	return work + tm.visibility + tm.retryMax + margin
}

// afterCrash is how long to wait for work that a crashed or paused worker
// must first give up: its lease runs out, then its message comes back
// (a visibility timeout), then the work is done.
func (tm timing) afterCrash(work time.Duration) time.Duration {
	return tm.lease + tm.within(work)
}

type setup struct {
	api     demoapi.Options
	stack   devstack.Options
	env     []string // extra service environment
	noStart bool
	// pipeline, when set, edits the demo API's pipeline config before the
	// services read it.
	pipeline func(yaml string) string
}

func start(t *testing.T, s setup) *env {
	t.Helper()
	st := devstacktest.Start(t, s.stack)
	api := demoapi.New(s.api)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })

	dir := t.TempDir()
	pipelineFile := filepath.Join(dir, "pipeline.yaml")
	cfg := api.PipelineYAML("http://"+ln.Addr().String(), nil)
	if s.pipeline != nil {
		cfg = s.pipeline(cfg)
	}
	if err := os.WriteFile(pipelineFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	serviceEnv := append(append([]string{}, serviceDefaults...), s.env...)
	p := &localrun.Pipeline{
		Bin: binDir, LogDir: filepath.Join(dir, "logs"), Endpoints: st.Endpoints, Resources: st.Resources,
		PipelineFile: pipelineFile, Env: serviceEnv,
	}
	store, err := runs.New(st.DynamoDB, runs.Config{Table: st.Resources.Table})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, stack: st, api: api, pipe: p, runs: store, sink: sink.New(st.S3, st.Resources.Bucket, ""), timing: timingOf(t, serviceEnv)}
	if !s.noStart {
		if err := p.StartAll(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if err := p.StopAll(); err != nil {
			t.Errorf("services did not stop cleanly: %v", err)
		}
		if t.Failed() {
			for _, svc := range localrun.Services {
				logs, _ := p.Logs(svc.Name)
				t.Logf("---- %s log (last 4 KiB)\n%s", svc.Name, tail(logs, 4096))
			}
		}
	})
	return e
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// waitRuns waits until every input SUCCEEDED or FAILED.
func (e *env) waitRuns(timeout time.Duration, inputs ...string) []runs.Run {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := localrun.WaitRuns(ctx, e.runs, inputs, func(r runs.Run) bool {
		return r.Status == runs.Succeeded || r.Status == runs.Failed
	})
	if err != nil {
		e.t.Fatalf("%v (waited %v)\n%s", err, timeout, e.where())
	}
	return out
}

// where tells where every message of the test's queues is, for a test
// that waited in vain.
func (e *env) where() string {
	return "where the messages are:\n" + localrun.Where(context.Background(), e.stack.Endpoints.SQS, e.stack.Resources)
}

// checkPartition asserts S3 holds exactly the API's records for the run,
// one copy, in order, and that the run's counts agree.
func (e *env) checkPartition(r runs.Run) {
	e.t.Helper()
	if _, err := localrun.Verify(context.Background(), e.stack.S3, e.sink, r, e.api.RecordsFor(r.Source, r.Window)); err != nil {
		e.t.Fatal(err)
	}
}

// send puts raw message bodies on a queue.
func (e *env) send(url string, bodies ...string) {
	e.t.Helper()
	for _, b := range bodies {
		if _, err := e.stack.SQS.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(b)}); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) input(source, window string) string {
	b, err := json.Marshal(contracts.NewInput(source, window, contracts.TriggerManual, false))
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

// drain receives every message currently on a queue (a DLQ) until it has
// want of them or the timeout passes.
func (e *env) drain(url string, want int, timeout time.Duration) []sqstypes.Message {
	e.t.Helper()
	var got []sqstypes.Message
	deadline := time.Now().Add(timeout)
	for len(got) < want && time.Now().Before(deadline) {
		out, err := e.stack.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 300,
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			e.t.Fatal(err)
		}
		got = append(got, out.Messages...)
	}
	return got
}

// pipelineIdle waits until every queue of the pipeline (triggers, inputs,
// fetches, batches) is idle: every message sent so far is handled, and
// the lines its handling logged are written.
func (e *env) pipelineIdle(timeout time.Duration) {
	e.t.Helper()
	res := e.stack.Resources
	for _, q := range []devstack.Queue{res.Triggers, res.Inputs, res.Fetch, res.Batches} {
		e.queueIdle(q.URL, timeout)
	}
}

// queueIdle waits until a queue has no visible and no in-flight messages.
func (e *env) queueIdle(url string, timeout time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, err := e.stack.SQS.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(url),
			AttributeNames: []sqstypes.QueueAttributeName{
				sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
			},
		})
		if err != nil {
			e.t.Fatal(err)
		}
		visible, _ := strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
		inflight, _ := strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
		if visible == 0 && inflight == 0 {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("queue %s not idle after %v: %d visible, %d in flight\n%s", url, timeout, visible, inflight, e.where())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
