package commit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-data/sluice/services/writer/commit"
	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/devstack/devstacktest"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/runs/runstest"
	"github.com/sluice-data/sluice/shared/sink"
)

// compactionWorld is a run store and a sink on the emulators, with runs
// of n staged parts ready to commit.
type compactionWorld struct {
	t     *testing.T
	ctx   context.Context
	st    *devstacktest.Stack
	store *runs.Store
	sink  *sink.Sink
}

func newCompactionWorld(t *testing.T) *compactionWorld {
	st := devstacktest.Start(t, devstack.Options{})
	store, err := runs.New(st.DynamoDB, runs.Config{Table: st.Resources.Table, Lease: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return &compactionWorld{t: t, ctx: context.Background(), st: st, store: store, sink: sink.New(st.S3, st.Resources.Bucket, "raw/")}
}

// started claims window and starts its fetch: the run and its partition.
func (w *compactionWorld) started(window string) (runs.Run, sink.Partition) {
	w.t.Helper()
	claimed, err := w.store.Claim(w.ctx, runs.ClaimRequest{Source: "orders", Window: window, Trigger: "manual", MessageID: "m-" + window})
	if err != nil {
		w.t.Fatal(err)
	}
	r, err := w.store.Start(w.ctx, claimed.Ref(), "f-"+window)
	if err != nil {
		w.t.Fatal(err)
	}
	return r, sink.Partition{Source: "orders", Hive: "dt=" + window}
}

// complete drives a claim of window to n written, counted parts.
func (w *compactionWorld) complete(window string, n int) (runs.Run, sink.Partition) {
	t := w.t
	r, part := w.started(window)
	for seq := range n {
		if _, err := w.sink.WritePart(w.ctx, w.sink.PartKey(part, r.Attempt, seq), batchData(t, r.Attempt, seq, 0), 2); err != nil {
			t.Fatal(err)
		}
		if _, err := w.store.BatchWritten(w.ctx, r.Ref(), seq); err != nil {
			t.Fatal(err)
		}
	}
	done, err := w.store.SetTotals(w.ctx, r.Ref(), n, int64(2*n), 0)
	if err != nil || !done.Complete() {
		t.Fatalf("totals: %+v %v", done, err)
	}
	return done, part
}

// twoPartFiles is an output whose files take two parts each: one more
// byte than the largest part (the parts of batchData differ by a byte at
// most).
func (w *compactionWorld) twoPartFiles(part sink.Partition, attempt int) pipeline.Output {
	parts, err := w.sink.Parts(w.ctx, part, attempt)
	if err != nil || len(parts) < 2 {
		w.t.Fatalf("parts: %v, %v", parts, err)
	}
	var largest int64
	for _, p := range parts {
		largest = max(largest, p.Bytes)
	}
	return pipeline.Output{Format: pipeline.JSONL, FileSize: pipeline.ByteSize(largest + 1)}
}

// published reads what a reader reads: the pointer's files, by base name,
// with their bytes; and checks that they hold parts 0…n-1 of the attempt.
func (w *compactionWorld) published(part sink.Partition, attempt, n int) (names []string, files [][]byte) {
	t := w.t
	t.Helper()
	ptr, err := w.sink.Current(w.ctx, part)
	if err != nil || ptr.Attempt != attempt {
		t.Fatalf("pointer = %+v, %v; want attempt %d", ptr, err, attempt)
	}
	var all, want []byte
	for _, uri := range ptr.URIs {
		key, _ := w.sink.KeyOf(uri)
		rc, err := w.sink.Open(w.ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		names, files = append(names, path.Base(key)), append(files, b)
		all = append(all, gunzip(t, b)...)
	}
	for seq := range n {
		want = append(want, gunzip(t, batchData(t, attempt, seq, 0))...)
	}
	if !bytes.Equal(all, want) {
		t.Fatalf("the published files hold\n%s\nwant parts 0-%d of attempt %d:\n%s", all, n-1, attempt, want)
	}
	return names, files
}

// uploads lists the multipart uploads in progress under the attempt.
func (w *compactionWorld) uploads(part sink.Partition, attempt int) int {
	out, err := w.st.S3.ListMultipartUploads(w.ctx, &s3.ListMultipartUploadsInput{
		Bucket: aws.String(w.sink.Bucket()), Prefix: aws.String(w.sink.AttemptPrefix(part, attempt))})
	if err != nil {
		w.t.Fatal(err)
	}
	return len(out.Uploads)
}

// killedAt is the real sink, except that its file number kill (from 1)
// dies the way a killed process does: its PutObject cut off halfway
// through the body, the connection dropped, never retried.
type killedAt struct {
	*sink.Sink
	api   *s3.Client
	kill  int
	calls int
}

var errKilled = errors.New("writer killed mid-compaction")

func (k *killedAt) Concat(ctx context.Context, key, contentType string, meta map[string]string, parts []sink.Part) (sink.Uploaded, error) {
	k.calls++
	if k.calls != k.kill {
		return k.Sink.Concat(ctx, key, contentType, meta, parts)
	}
	cut := s3.New(k.api.Options(), func(o *s3.Options) {
		o.HTTPClient = halfBodies{o.HTTPClient}
		o.RetryMaxAttempts = 1
	})
	if _, err := sink.New(cut, k.Bucket(), "raw/").Concat(ctx, key, contentType, meta, parts); err == nil {
		return sink.Uploaded{}, fmt.Errorf("the PUT cut off halfway succeeded")
	}
	return sink.Uploaded{}, errKilled
}

// halfBodies sends every request with its body cut off halfway.
type halfBodies struct{ next s3.HTTPClient }

func (h halfBodies) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.ContentLength > 1 {
		req.Body = io.NopCloser(io.MultiReader(io.LimitReader(req.Body, req.ContentLength/2), failing{}))
	}
	return h.next.Do(req)
}

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, errKilled }

// Against DynamoDB Local and versitygw: a writer killed in the middle of
// its second file's PUT leaves nothing a reader sees (no pointer, no
// second file — a cut-off PUT stores nothing, and leaves no upload to
// abort; the first file is complete but unpublished), and the
// redelivered commit keeps the first file, finishes the others, and
// publishes the same files, byte for byte, as a commit that was never
// interrupted; then the staged parts are gone. (A parquet file's
// multipart upload killed mid-way is scripts/e2e's
// TestWriterKilledMidCompactionLeavesNothingVisible.)
func TestCompactionKilledMidFileRedeliveryFinishesTheSameFiles(t *testing.T) {
	w := newCompactionWorld(t)
	const n = 6
	killedRun, killedPart := w.complete("2026-11-01", n)
	cleanRun, cleanPart := w.complete("2026-11-02", n)
	out := w.twoPartFiles(killedPart, killedRun.Attempt)
	outputs := commit.WithOutputs(func(string) pipeline.Output { return out })

	killed := &killedAt{Sink: w.sink, api: w.st.S3, kill: 2}
	if _, err := commit.New(w.store, killed, outputs).Commit(w.ctx, killedRun, killedPart); !errors.Is(err, errKilled) {
		t.Fatalf("commit = %v, want it killed", err)
	}
	if _, err := w.sink.Current(w.ctx, killedPart); !errors.Is(err, sink.ErrNoPointer) {
		t.Fatalf("after the kill the partition is published: %v", err)
	}
	files, err := w.sink.Files(w.ctx, killedPart, killedRun.Attempt)
	if err != nil || len(files) != 1 || files[0].First != 0 || files[0].Last != 1 {
		t.Fatalf("files after the kill = %+v, %v; want the first only", files, err)
	}
	if got := w.uploads(killedPart, killedRun.Attempt); got != 0 {
		t.Fatalf("%d uploads in progress after the kill, want none (one PUT a file)", got)
	}
	if r, err := w.store.Get(w.ctx, killedRun.Input); err != nil || r.Status != runs.Committing {
		t.Fatalf("run after the kill = %s, %v; want COMMITTING", r.Status, err)
	}

	// The redelivery finds the run COMMITTING and finishes it.
	res, err := commit.New(w.store, w.sink, outputs).Commit(w.ctx, killedRun, killedPart)
	if err != nil || !res.Published || res.Continue || res.Objects != n/2 || res.Compacted != n/2-1 || res.Staged != n {
		t.Fatalf("redelivered commit = %+v, %v; want %d files published, the first kept, %d parts removed", res, err, n/2, n)
	}
	clean, err := commit.New(w.store, w.sink, outputs).Commit(w.ctx, cleanRun, cleanPart)
	if err != nil || !clean.Published || clean.Compacted != n/2 {
		t.Fatalf("uninterrupted commit = %+v, %v", clean, err)
	}
	gotNames, gotFiles := w.published(killedPart, killedRun.Attempt, n)
	wantNames, wantFiles := w.published(cleanPart, cleanRun.Attempt, n)
	if fmt.Sprint(gotNames) != fmt.Sprint(wantNames) {
		t.Fatalf("redelivered files %v, uninterrupted %v", gotNames, wantNames)
	}
	for i := range gotFiles { // both attempt 1: the same parts
		if !bytes.Equal(gotFiles[i], wantFiles[i]) {
			t.Errorf("file %s differs from the uninterrupted commit's", gotNames[i])
		}
	}
	if parts, err := w.sink.Parts(w.ctx, killedPart, killedRun.Attempt); err != nil || len(parts) != 0 {
		t.Errorf("staged parts after publish: %v, %v", parts, err)
	}
	if got := w.uploads(killedPart, killedRun.Attempt); got != 0 {
		t.Errorf("%d uploads in progress after publish, want none", got)
	}
	if r, err := w.store.Get(w.ctx, killedRun.Input); err != nil || r.Status != runs.Succeeded || r.Objects != n/2 {
		t.Errorf("run = %+v, %v; want SUCCEEDED with %d objects", r, err, n/2)
	}
}

// clockedUploads is the real sink whose every upload takes ten minutes of
// the test clock.
type clockedUploads struct {
	*sink.Sink
	clock *runstest.Clock
	// starting, if set, is called as each upload starts.
	starting func()
}

func (c clockedUploads) Upload(ctx context.Context, key, contentType string, meta map[string]string, write func(io.Writer) error) (sink.Uploaded, error) {
	if c.starting != nil {
		c.starting()
	}
	c.clock.Add(10 * time.Minute)
	return c.Sink.Upload(ctx, key, contentType, meta, write)
}

func (c clockedUploads) Concat(ctx context.Context, key, contentType string, meta map[string]string, parts []sink.Part) (sink.Uploaded, error) {
	if c.starting != nil {
		c.starting()
	}
	c.clock.Add(10 * time.Minute)
	return c.Sink.Concat(ctx, key, contentType, meta, parts)
}

// Against DynamoDB Local and versitygw: a compaction that would outlast
// its invocation (each file takes ten minutes; each invocation has 25)
// stops between two files with nothing published, and the commit called
// again in the next invocations resumes after the last file, writing each
// file once, until it publishes.
func TestCompactionContinuesInTheNextInvocation(t *testing.T) {
	w := newCompactionWorld(t)
	const n = 6
	run, part := w.complete("2026-11-03", n)
	clock := runstest.NewClock(time.Now())
	outputs := commit.WithOutputs(func(string) pipeline.Output { return w.twoPartFiles(part, run.Attempt) })
	c := commit.New(w.store, clockedUploads{Sink: w.sink, clock: clock}, outputs, commit.WithClock(clock.Now), commit.WithReserve(time.Minute))

	invoke := func() commit.Result {
		t.Helper()
		ctx, cancel := context.WithDeadline(w.ctx, clock.Now().Add(25*time.Minute))
		defer cancel()
		res, err := c.Commit(ctx, run, part)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for i := range 2 {
		// The first file of an invocation takes 10 of its 25 minutes; 15
		// are left, under twice the longest file: it stops.
		res := invoke()
		if !res.Continue || res.Published || res.Compacted != 1 {
			t.Fatalf("invocation %d = %+v; want one file written and a continuation", i+1, res)
		}
		if _, err := w.sink.Current(w.ctx, part); !errors.Is(err, sink.ErrNoPointer) {
			t.Fatalf("published before the compaction finished: %v", err)
		}
		if r, err := w.store.Get(w.ctx, run.Input); err != nil || r.Status != runs.Committing {
			t.Fatalf("run between invocations = %s, %v; want COMMITTING", r.Status, err)
		}
	}
	res := invoke()
	if res.Continue || !res.Published || res.Compacted != 1 || res.Objects != n/2 {
		t.Fatalf("last invocation = %+v; want the last file written and %d published", res, n/2)
	}
	w.published(part, run.Attempt, n)
}

// Against DynamoDB Local and versitygw: a compaction continued over more
// than its lease (files of ten minutes, a 15-minute lease) keeps the
// input, because every continuation renews the lease, and so does the
// start of each further file of an invocation that outlasts the lease: no
// sweep or claim takes the commit over, and it publishes its attempt.
func TestAContinuedCompactionKeepsItsLease(t *testing.T) {
	for _, tt := range []struct {
		name string
		// per is the invocation's time; invocations how many the commit takes.
		per         time.Duration
		invocations int
	}{
		{"one file per invocation", 25 * time.Minute, 3},
		{"three files in an invocation longer than the lease", 45 * time.Minute, 1},
	} {
		t.Run(tt.name, func(t *testing.T) { testContinuedCompactionKeepsItsLease(t, tt.per, tt.invocations) })
	}
}

func testContinuedCompactionKeepsItsLease(t *testing.T, per time.Duration, invocations int) {
	w := newCompactionWorld(t)
	const n = 6
	run, part := w.complete("2026-11-05", n)
	clock := runstest.NewClock(time.Now())
	store, err := runs.New(w.st.DynamoDB, runs.Config{Table: w.st.Resources.Table, Lease: 15 * time.Minute}, runs.WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	live := func() {
		if got, err := store.Get(w.ctx, run.Input); err != nil || got.Attempt != run.Attempt || !time.Unix(got.LeaseUntil, 0).After(clock.Now()) {
			t.Errorf("a file starts with run %s attempt %d, lease until %s, now %s, %v; want attempt %d with a live lease",
				got.Status, got.Attempt, time.Unix(got.LeaseUntil, 0), clock.Now(), err, run.Attempt)
		}
	}
	outputs := commit.WithOutputs(func(string) pipeline.Output { return w.twoPartFiles(part, run.Attempt) })
	c := commit.New(store, clockedUploads{Sink: w.sink, clock: clock, starting: live}, outputs, commit.WithClock(clock.Now), commit.WithReserve(time.Minute))
	for i := range invocations {
		ctx, cancel := context.WithDeadline(w.ctx, clock.Now().Add(per))
		res, err := c.Commit(ctx, run, part)
		cancel()
		if err != nil {
			t.Fatalf("invocation %d: %v", i+1, err)
		}
		if res.Published {
			if i != invocations-1 {
				t.Fatalf("published at invocation %d, want %d", i+1, invocations)
			}
			w.published(part, run.Attempt, n)
			return
		}
		if got, err := store.Get(w.ctx, run.Input); err != nil || got.Attempt != run.Attempt || !time.Unix(got.LeaseUntil, 0).After(clock.Now()) {
			t.Fatalf("after invocation %d: run %s attempt %d, lease until %s, now %s, %v; want attempt %d with a live lease",
				i+1, got.Status, got.Attempt, time.Unix(got.LeaseUntil, 0), clock.Now(), err, run.Attempt)
		}
		if _, err := store.Claim(w.ctx, runs.ClaimRequest{Source: "orders", Window: "2026-11-05", Trigger: "manual", MessageID: fmt.Sprint("m-late-", i)}); err == nil {
			t.Fatalf("after invocation %d: a claim took the live commit over", i+1)
		}
		clock.Add(time.Minute) // the continuation's message on its way
	}
	t.Fatal("never published")
}

// Against DynamoDB Local and versitygw: an invocation that starts with
// less than the reserve left (a Done message received late, a writer
// timeout under the reserve) still writes one file before it hands on,
// so a continued commit always progresses: it takes at most one
// invocation per file, never an endless chain of empty continuations.
func TestEveryInvocationWritesAFileBeforeItHandsOn(t *testing.T) {
	w := newCompactionWorld(t)
	const n = 6
	run, part := w.complete("2026-11-06", n)
	outputs := commit.WithOutputs(func(string) pipeline.Output { return w.twoPartFiles(part, run.Attempt) })
	c := commit.New(w.store, w.sink, outputs, commit.WithReserve(time.Hour))
	for i := range n / 2 {
		ctx, cancel := context.WithTimeout(w.ctx, time.Minute) // under the reserve
		res, err := c.Commit(ctx, run, part)
		cancel()
		if err != nil {
			t.Fatalf("invocation %d: %v", i+1, err)
		}
		if res.Compacted != 1 {
			t.Fatalf("invocation %d = %+v; want one file written", i+1, res)
		}
		if last := i == n/2-1; res.Continue == last || res.Published != last {
			t.Fatalf("invocation %d = %+v; want a continuation until the last file, then the publish", i+1, res)
		}
	}
	w.published(part, run.Attempt, n)
}

// countedS3 is the emulator's S3 client, counting the requests of each
// operation the sink makes.
type countedS3 struct {
	sink.S3API
	mu sync.Mutex
	n  map[string]int
}

func (c *countedS3) count(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[op]++
}

func (c *countedS3) PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	c.count("PutObject")
	return c.S3API.PutObject(ctx, in, opts...)
}

func (c *countedS3) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	c.count("ListObjectsV2")
	return c.S3API.ListObjectsV2(ctx, in, opts...)
}

func (c *countedS3) ListMultipartUploads(ctx context.Context, in *s3.ListMultipartUploadsInput, opts ...func(*s3.Options)) (*s3.ListMultipartUploadsOutput, error) {
	c.count("ListMultipartUploads")
	return c.S3API.ListMultipartUploads(ctx, in, opts...)
}

func (c *countedS3) CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	c.count("CreateMultipartUpload")
	return c.S3API.CreateMultipartUpload(ctx, in, opts...)
}

func (c *countedS3) UploadPart(ctx context.Context, in *s3.UploadPartInput, opts ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	c.count("UploadPart")
	return c.S3API.UploadPart(ctx, in, opts...)
}

func (c *countedS3) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	c.count("CompleteMultipartUpload")
	return c.S3API.CompleteMultipartUpload(ctx, in, opts...)
}

// Against DynamoDB Local and versitygw: a jsonl commit's PUT-class
// requests are one PutObject per file (no multipart upload), the
// manifest and the pointer, and two listings: the attempt's parts and
// files, then the partition for its clean-up (other attempts and the
// attempt's own leftovers at once) — no ListMultipartUploads: a jsonl
// commit starts no upload to abort.
func TestAJSONLCommitIsOnePutPerFile(t *testing.T) {
	w := newCompactionWorld(t)
	const n = 6
	run, part := w.complete("2026-11-07", n)
	out := w.twoPartFiles(part, run.Attempt)
	api := &countedS3{S3API: w.st.S3, n: map[string]int{}}
	s := sink.New(api, w.st.Resources.Bucket, "raw/")
	res, err := commit.New(w.store, s, commit.WithOutputs(func(string) pipeline.Output { return out })).Commit(w.ctx, run, part)
	if err != nil || !res.Published || res.Objects != n/2 {
		t.Fatalf("commit = %+v, %v; want %d files published", res, err, n/2)
	}
	w.published(part, run.Attempt, n)
	want := map[string]int{"PutObject": n/2 + 2, "ListObjectsV2": 2}
	if fmt.Sprint(api.n) != fmt.Sprint(want) {
		t.Fatalf("PUT-class requests of the commit = %v, want %v", api.n, want)
	}
}
