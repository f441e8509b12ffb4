package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/sluice-data/sluice/services/writer/commit"
	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/devstack/devstacktest"
	"github.com/sluice-data/sluice/shared/logging"
	"github.com/sluice-data/sluice/shared/metrics"
	"github.com/sluice-data/sluice/shared/metrics/metricstest"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/sink"
)

// countingCommitter counts the commits decided.
type countingCommitter struct {
	*commit.Committer
	won atomic.Int32
}

func (c *countingCommitter) Commit(ctx context.Context, run runs.Run, p sink.Partition) (commit.Result, error) {
	res, err := c.Committer.Commit(ctx, run, p)
	if res.Won {
		c.won.Add(1)
	}
	return res, err
}

// Against DynamoDB Local and versitygw: a run's batches delivered out of
// order, each twice and concurrently, with the Done message last, commit
// exactly once, with the right counts, and the partition shows exactly
// the batches.
func TestBatchesOutOfOrderTwiceWithTheTotalLastCommitOnce(t *testing.T) {
	st := devstacktest.Start(t, devstack.Options{})
	ctx := context.Background()
	store, err := runs.New(st.DynamoDB, runs.Config{Table: st.Resources.Table})
	if err != nil {
		t.Fatal(err)
	}
	objects := sink.New(st.S3, st.Resources.Bucket, "")
	p := demoPipeline(t)
	commits := &countingCommitter{Committer: commit.New(store, objects)}
	h := &handler{pipeline: p, runs: store, sink: objects, layout: objects.Layout, commits: commits}

	claimed, err := store.Claim(ctx, runs.ClaimRequest{Source: "orders", Window: "2026-11-01", Trigger: "manual", MessageID: "in-1"})
	if err != nil {
		t.Fatal(err)
	}
	started, err := store.Start(ctx, claimed.Ref(), "fetch-1")
	if err != nil {
		t.Fatal(err)
	}
	run := started.Ref()
	const n = 8
	bodies := batchBodies(t, run, n)
	order := append(rand.Perm(n), rand.Perm(n)...) // every batch twice, shuffled
	var wg sync.WaitGroup
	errs := make(chan error, len(order))
	for i, seq := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- h.Handle(ctx, consumer.Message{ID: fmt.Sprintf("b-%d", i), Body: bodies[seq], ReceiveCount: 1})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if r, _ := store.Get(ctx, run.Key()); r.Status != runs.Running || len(r.Written) != n {
		t.Fatalf("before the total: %s with %d batches written, want RUNNING with %d", r.Status, len(r.Written), n)
	}
	done := contracts.NewDone(run, n, 3*n, 900)
	body := fmt.Appendf(nil, `{"v":1,"kind":"done","source":%q,"window":%q,"run_id":%q,"attempt":%d,"batches":%d,"records":%d,"bytes":%d}`,
		done.Source, done.Window, done.RunID, done.Attempt, done.Batches, done.Records, done.Bytes)
	for i := range 2 { // the total, twice
		if err := h.Handle(ctx, consumer.Message{ID: fmt.Sprintf("d-%d", i), Body: body, ReceiveCount: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if got := commits.won.Load(); got != 1 {
		t.Fatalf("%d commits decided, want 1", got)
	}
	r, err := store.Get(ctx, run.Key())
	// The n batches are compacted into one file: the run counts it, the
	// pointer lists it, and it holds exactly the batches' records, in order.
	if err != nil || r.Status != runs.Succeeded || r.Records != 3*n || r.Objects != 1 || len(r.Written) != n {
		t.Fatalf("run = %+v, %v", r, err)
	}
	ptr, err := objects.Current(ctx, sink.Partition{Source: "orders", Hive: "dt=2026-11-01"})
	if err != nil || ptr.Attempt != run.Attempt || len(ptr.URIs) != 1 || ptr.Records != 3*n {
		t.Fatalf("pointer = %+v, %v", ptr, err)
	}
	key, _ := objects.KeyOf(ptr.URIs[0])
	rc, err := objects.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	for i := range n {
		for j := range 3 {
			want = fmt.Appendf(want, "{\"batch\":%d,\"id\":%d}\n", i, j)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the published file holds\n%s\nwant\n%s", got, want)
	}
}

// sent records the messages the handler sends.
type sent struct {
	mu     sync.Mutex
	urls   []string
	bodies [][]byte
}

func (s *sent) SendJSON(_ context.Context, url string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.urls, s.bodies = append(s.urls, url), append(s.bodies, b)
	return nil
}

// Against DynamoDB Local and versitygw: a commit whose compaction would
// outlast the invocation (here: after its first file of three, less time
// is left than the reserve) sends the run's Done message to the batches queue and acknowledges its
// own; nothing is published, the run stays COMMITTING; the Done message,
// delivered to a new invocation, finishes the commit.
func TestACommitThatNeedsAnotherInvocationContinuesThroughItsDoneMessage(t *testing.T) {
	st := devstacktest.Start(t, devstack.Options{})
	ctx := context.Background()
	store, err := runs.New(st.DynamoDB, runs.Config{Table: st.Resources.Table})
	if err != nil {
		t.Fatal(err)
	}
	objects := sink.New(st.S3, st.Resources.Bucket, "")
	p := demoPipeline(t)
	out := &sent{}
	h := &handler{pipeline: p, runs: store, sink: objects, layout: objects.Layout, out: out, batchesURL: "batches-url",
		commits: commit.New(store, objects, commit.WithReserve(time.Hour), commit.WithOutputs(func(string) pipeline.Output {
			return pipeline.Output{Format: pipeline.JSONL, FileSize: 1} // a file per part: the first invocation writes one of three
		})), metrics: metrics.New("Sluice", "writer")}
	var logs bytes.Buffer
	ctx, _ = logging.WithScope(ctx, zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&logs), zap.InfoLevel)))
	claimed, err := store.Claim(ctx, runs.ClaimRequest{Source: "orders", Window: "2026-11-01", Trigger: "manual", MessageID: "in-1"})
	if err != nil {
		t.Fatal(err)
	}
	started, err := store.Start(ctx, claimed.Ref(), "fetch-1")
	if err != nil {
		t.Fatal(err)
	}
	run := started.Ref()
	const n = 3
	short, cancel := context.WithTimeout(ctx, 10*time.Minute) // under the reserve
	defer cancel()
	for seq, body := range batchBodies(t, run, n) {
		if err := h.Handle(short, consumer.Message{ID: fmt.Sprintf("b-%d", seq), Body: body, ReceiveCount: 1}); err != nil {
			t.Fatal(err)
		}
	}
	done, err := json.Marshal(contracts.NewDone(run, n, 3*n, 900))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Handle(short, consumer.Message{ID: "d-0", Body: done, ReceiveCount: 1}); err != nil {
		t.Fatalf("the commit that continues = %v, want its message acknowledged", err)
	}
	part := sink.Partition{Source: "orders", Hive: "dt=2026-11-01"}
	if _, err := objects.Current(ctx, part); !errors.Is(err, sink.ErrNoPointer) {
		t.Fatalf("published before the compaction ran: %v", err)
	}
	if r, err := store.Get(ctx, run.Key()); err != nil || r.Status != runs.Committing {
		t.Fatalf("run = %s, %v; want COMMITTING", r.Status, err)
	}
	if len(out.bodies) != 1 || out.urls[0] != "batches-url" {
		t.Fatalf("sent %d messages to %v, want one continuation to the batches queue", len(out.bodies), out.urls)
	}
	if kind, err := contracts.Kind(out.bodies[0]); err != nil || kind != contracts.KindDone {
		t.Fatalf("the continuation is %q (%v), want a done message", kind, err)
	}

	if err := h.Handle(ctx, consumer.Message{ID: "d-1", Body: out.bodies[0], ReceiveCount: 1}); err != nil {
		t.Fatal(err)
	}
	r, err := store.Get(ctx, run.Key())
	if err != nil || r.Status != runs.Succeeded || r.Objects != n {
		t.Fatalf("run after the continuation = %+v, %v", r, err)
	}
	if ptr, err := objects.Current(ctx, part); err != nil || ptr.Attempt != run.Attempt || len(ptr.URIs) != n {
		t.Fatalf("pointer = %+v, %v", ptr, err)
	}
	if len(out.bodies) != 1 {
		t.Fatalf("%d messages sent, want no second continuation", len(out.bodies))
	}
	// The invocation that publishes — not the one that won BeginCommit —
	// puts the run's success on its line, once.
	succeeded := 0
	for sc := bufio.NewScanner(&logs); sc.Scan(); {
		if vals, _, err := metricstest.Values(sc.Bytes()); err == nil && vals["RunsSucceeded"] > 0 {
			succeeded += int(vals["RunsSucceeded"])
			if vals["Records"] != 3*n || vals["Bytes"] != 900 {
				t.Errorf("success line's Records %v Bytes %v, want %d 900", vals["Records"], vals["Bytes"], 3*n)
			}
		}
	}
	if succeeded != 1 {
		t.Fatalf("RunsSucceeded %d across the two invocations, want 1:\n%s", succeeded, logs.String())
	}
}
