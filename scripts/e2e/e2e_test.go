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
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sluice-data/sluice/scripts/localrun"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/demoapi"
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
	t     *testing.T
	stack *devstacktest.Stack
	api   *demoapi.Server
	pipe  *localrun.Pipeline
	runs  *runs.Store
	sink  *sink.Sink
}

type setup struct {
	api     demoapi.Options
	stack   devstack.Options
	env     []string // extra service environment
	noStart bool
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
	if err := os.WriteFile(pipelineFile, []byte(api.PipelineYAML("http://"+ln.Addr().String(), nil)), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &localrun.Pipeline{
		Bin: binDir, LogDir: filepath.Join(dir, "logs"), Endpoints: st.Endpoints, Resources: st.Resources,
		PipelineFile: pipelineFile, Env: append([]string{"SLUICE_LEASE=30s"}, s.env...),
	}
	store, err := runs.New(st.DynamoDB, runs.Config{Table: st.Resources.Table})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, stack: st, api: api, pipe: p, runs: store, sink: sink.New(st.S3, st.Resources.Bucket, "")}
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
		e.t.Fatal(err)
	}
	return out
}

// checkPartition asserts S3 holds exactly the API's records for the run,
// one copy, in order, and that the run's counts agree.
func (e *env) checkPartition(r runs.Run) {
	e.t.Helper()
	if r.Status != runs.Succeeded {
		e.t.Fatalf("%s: status %s (%s: %s)", r.Input, r.Status, r.ErrorClass, r.LastError)
	}
	part, err := localrun.ReadPartition(context.Background(), e.stack.S3, e.sink, sink.Partition{Source: r.Source, Hive: "dt=" + r.Window})
	if err != nil {
		e.t.Fatal(err)
	}
	if part.Attempt != r.Attempt {
		e.t.Fatalf("%s: the partition shows attempt %d, the run succeeded as attempt %d", r.Input, part.Attempt, r.Attempt)
	}
	want := e.api.RecordsFor(r.Source, r.Window)
	if len(part.Records) != len(want) {
		e.t.Fatalf("%s: S3 holds %d records, the API %d", r.Input, len(part.Records), len(want))
	}
	if part.Hash() != localrun.HashRecords(want) {
		e.t.Fatalf("%s: S3 content differs from the API's records", r.Input)
	}
	if r.Records != int64(len(want)) || r.Objects != len(part.Keys) || (r.BatchesExpected != nil && *r.BatchesExpected != len(part.Keys)) {
		e.t.Fatalf("%s: run says %d records / %d objects, S3 has %d / %d", r.Input, r.Records, r.Objects, len(want), len(part.Keys))
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
			e.t.Fatalf("queue %s not idle after %v: %d visible, %d in flight", url, timeout, visible, inflight)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
