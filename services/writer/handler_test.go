package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/services/writer/commit"
	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/pack"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/runs/runstest"
	"github.com/sluice-data/sluice/shared/sink"
)

const partition = "source=orders/dt=2026-11-01/"

// trace records the calls the handler makes to the run store and the
// committer, in order.
type trace struct {
	mu    sync.Mutex
	calls []string
}

func (t *trace) record(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.calls = append(t.calls, fmt.Sprintf(format, args...))
}

// tracedRuns is the in-memory run store, with its calls traced and, when
// set, a failure of BatchWritten.
type tracedRuns struct {
	*runstest.Store
	*trace
	writtenErr error
}

func (f *tracedRuns) BatchWritten(ctx context.Context, r contracts.Run, seq int) (runs.Run, error) {
	f.record("batch written %s#%d %d", r.RunID, r.Attempt, seq)
	if f.writtenErr != nil {
		return runs.Run{}, f.writtenErr
	}
	return f.Store.BatchWritten(ctx, r, seq)
}

func (f *tracedRuns) SetTotals(ctx context.Context, r contracts.Run, batches int, records, bytes int64) (runs.Run, error) {
	f.record("set totals %s#%d %d %d %d", r.RunID, r.Attempt, batches, records, bytes)
	return f.Store.SetTotals(ctx, r, batches, records, bytes)
}

func (f *tracedRuns) Fail(ctx context.Context, r contracts.Run, class, msg string) error {
	f.record("fail %s#%d %s", r.RunID, r.Attempt, class)
	return f.Store.Fail(ctx, r, class, msg)
}

// fakeCommitter answers each commit as told, and traces it.
type fakeCommitter struct {
	*trace
	won       bool
	err       error
	committed []contracts.Run
}

var (
	_ runStore  = (*tracedRuns)(nil)
	_ committer = (*fakeCommitter)(nil)
)

func (f *fakeCommitter) Commit(_ context.Context, run runs.Run, p sink.Partition) (commit.Result, error) {
	f.record("commit %s#%d %s/%s %s", run.RunID, run.Attempt, p.Source, p.Hive, run.Status)
	f.mu.Lock()
	f.committed = append(f.committed, run.Ref())
	f.mu.Unlock()
	return commit.Result{Won: f.won, Finished: f.won && f.err == nil, Published: f.won, Objects: 2}, f.err
}

func (f *fakeCommitter) GiveUp(_ context.Context, ref contracts.Run, p sink.Partition, class, _ string) (commit.Ending, error) {
	f.record("give up %s#%d %s/%s %s", ref.RunID, ref.Attempt, p.Source, p.Hive, class)
	return commit.EndedFailed, nil
}

// demoPipeline is the demo API's pipeline, the config the writer's tests
// run with.
func demoPipeline(t *testing.T) *pipeline.Config {
	t.Helper()
	p, err := pipeline.Parse("demo.yaml", []byte(demoapi.PipelineYAML("http://api.test", nil)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// restartedRun brings orders/2026-11-01 to attempt 2, RUNNING, in st: its
// fetch restarted once after the first try's lease ran out, so attempt 1
// is stale.
func restartedRun(t *testing.T, st *runstest.Store, clock *time.Time) contracts.Run {
	t.Helper()
	ctx := context.Background()
	claimed, err := st.Claim(ctx, runs.ClaimRequest{Source: "orders", Window: "2026-11-01", Trigger: "manual", MessageID: "m-0"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Start(ctx, claimed.Ref(), "f-1"); err != nil {
		t.Fatal(err)
	}
	*clock = clock.Add(time.Hour)
	again, err := st.Start(ctx, claimed.Ref(), "f-1")
	if err != nil || again.Attempt != 2 {
		t.Fatalf("restart = %+v, %v", again, err)
	}
	return again.Ref()
}

// fakeSink keeps the objects written, under the keys the handler names
// with the real sink.Layout.
type fakeSink struct {
	mu       sync.Mutex
	calls    []string
	objects  map[string][]byte
	writeErr error
}

var _ objectStore = (*fakeSink)(nil)

func (f *fakeSink) WritePart(_ context.Context, key string, gz []byte, records int) (sink.Written, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("write %s %d", key, records))
	if f.writeErr != nil {
		return sink.Written{}, f.writeErr
	}
	f.objects[key] = bytes.Clone(gz)
	return sink.Written{Key: key, Records: records, Bytes: len(gz)}, nil
}

func (f *fakeSink) WriteBlock(ctx context.Context, key string, gzs [][]byte, records int) (sink.Written, error) {
	return f.WritePart(ctx, key, bytes.Join(gzs, nil), records)
}

// batchBodies packs n batches of three records each for run, as the
// fetcher does.
func batchBodies(t *testing.T, run contracts.Run, n int) [][]byte {
	t.Helper()
	p := pack.New(run, 32<<10)
	var bodies [][]byte
	for i := range n {
		for j := range 3 {
			if err := p.Add(fmt.Appendf(nil, `{"batch":%d,"id":%d}`, i, j)); err != nil {
				t.Fatal(err)
			}
		}
		body, err := p.Flush()
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, body)
	}
	return bodies
}

func gzipOf(t *testing.T, body []byte) []byte {
	t.Helper()
	b, err := contracts.DecodeBatch(body)
	if err != nil {
		t.Fatal(err)
	}
	return b.Data
}

func doneBody(run contracts.Run, batches int) []byte {
	return fmt.Appendf(nil, `{"v":1,"kind":"done","source":%q,"window":%q,"run_id":%q,"attempt":%d,"batches":%d,"records":6,"bytes":900}`,
		run.Source, run.Window, run.RunID, run.Attempt, batches)
}

// prep brings the run to a state before the handler sees the message.
type prep func(t *testing.T, st *runstest.Store, run contracts.Run)

// written counts batches seqs of the run, and totals (when n >= 0) its
// total of n batches.
func written(n int, seqs ...int) prep {
	return func(t *testing.T, st *runstest.Store, run contracts.Run) {
		t.Helper()
		ctx := context.Background()
		for _, seq := range seqs {
			if _, err := st.BatchWritten(ctx, run, seq); err != nil {
				t.Fatal(err)
			}
		}
		if n >= 0 {
			if _, err := st.SetTotals(ctx, run, n, 6, 900); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestHandle(t *testing.T) {
	batch := func(seq int) func(contracts.Run) []byte {
		return func(run contracts.Run) []byte { return batchBodies(t, run, 2)[seq] }
	}
	stale := func(run contracts.Run) []byte {
		run.Attempt--
		return batchBodies(t, run, 1)[0]
	}
	// The header says two records where the payload holds three.
	corrupt := func(run contracts.Run) []byte {
		b := batchBodies(t, run, 1)[0]
		c := bytes.Replace(b, []byte(`"count":3,`), []byte(`"count":2,`), 1)
		if bytes.Equal(c, b) {
			t.Fatal("could not corrupt the batch")
		}
		return c
	}
	// As a fetcher built before the payload's checksum sent it: checked by
	// decompressing its payload. With field, as the checksum's first
	// version sent it: a crc32c in the body, which plays no part.
	withoutCRC := func(body func(contracts.Run) []byte, field bool) func(contracts.Run) []byte {
		return func(run contracts.Run) []byte {
			b, err := contracts.DecodeBatch(body(run))
			if err != nil {
				t.Fatal(err)
			}
			d := b.Data
			if len(d) < 20 || d[3] != 0x04 {
				t.Fatal("the payload carries no checksum field")
			}
			b.Data = append(append([]byte{}, d[:3]...), append([]byte{0}, d[4:10]...)...)
			b.Data = append(b.Data, d[20:]...)
			if field {
				sum := uint32(12345)
				b.CRC32C = &sum
			}
			out, err := json.Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
	}
	done := func(n int) func(contracts.Run) []byte {
		return func(run contracts.Run) []byte { return doneBody(run, n) }
	}
	staleDone := func(run contracts.Run) []byte {
		run.Attempt--
		return doneBody(run, 2)
	}
	fixed := func(b []byte) func(contracts.Run) []byte { return func(contracts.Run) []byte { return b } }
	fencedByNewer := &runs.FencedError{Op: "commit", Attempt: 3, Status: runs.Running}
	s3Down := fault.Retryable(errors.New("s3: slow down"))
	part0 := "data/" + partition + "attempt=2/part-000000.jsonl.gz"
	part1 := "data/" + partition + "attempt=2/part-000001.jsonl.gz"
	commitRunning := "commit <id>#2 orders/dt=2026-11-01 RUNNING"

	tests := []struct {
		name       string
		body       func(contracts.Run) []byte
		prep       prep
		writtenErr error
		won        bool
		commitErr  error
		writeErr   error
		want       string // "nil", "retry", "permanent" or "parked" (retries exhausted: parked by the consumer)
		cause      error
		wantRuns   []string // <id> stands for the run id
		wantStatus runs.Status
		wantSink   []string
		wantBytes  string // the key whose object must be the batch's gzip stream
		receive    int    // the delivery; 1 when 0
	}{
		{
			name:       "batch is written under its attempt's keys and counted",
			body:       batch(0),
			want:       "nil",
			wantRuns:   []string{"batch written <id>#2 0"},
			wantStatus: runs.Running,
			wantSink:   []string{"write " + part0 + " 3"},
			wantBytes:  part0,
		},
		{
			name:       "batch without its checksum is written and counted",
			body:       withoutCRC(batch(0), false),
			want:       "nil",
			wantRuns:   []string{"batch written <id>#2 0"},
			wantStatus: runs.Running,
			wantSink:   []string{"write " + part0 + " 3"},
			wantBytes:  part0,
		},
		{
			name:       "batch with the crc32c body field is written and counted",
			body:       withoutCRC(batch(0), true),
			want:       "nil",
			wantRuns:   []string{"batch written <id>#2 0"},
			wantStatus: runs.Running,
			wantSink:   []string{"write " + part0 + " 3"},
			wantBytes:  part0,
		},
		{
			name:       "batch that is not the last leaves the run open",
			body:       batch(0),
			prep:       written(2),
			want:       "nil",
			wantRuns:   []string{"batch written <id>#2 0"},
			wantStatus: runs.Running,
			wantSink:   []string{"write " + part0 + " 3"},
		},
		{
			name:       "batch that completes the run commits it",
			body:       batch(1),
			prep:       written(2, 0),
			won:        true,
			want:       "nil",
			wantRuns:   []string{"batch written <id>#2 1", commitRunning},
			wantStatus: runs.Running, // the committer is a fake
			wantSink:   []string{"write " + part1 + " 3"},
			wantBytes:  part1,
		},
		{
			name:     "commit joined with a concurrent writer is fine",
			body:     batch(1),
			prep:     written(2, 0),
			want:     "nil",
			wantRuns: []string{"batch written <id>#2 1", commitRunning},
			wantSink: []string{"write " + part1 + " 3"},
		},
		{
			name:       "batch of a stale attempt: written under its own keys, never counted, dropped",
			body:       stale,
			want:       "nil",
			wantRuns:   []string{"batch written <id>#1 0"},
			wantStatus: runs.Running,
			wantSink:   []string{"write data/" + partition + "attempt=1/part-000000.jsonl.gz 3"},
		},
		{
			name: "fenced while counting: dropped",
			body: batch(0),
			prep: func(t *testing.T, st *runstest.Store, run contracts.Run) {
				if _, err := st.Release(context.Background(), run.Key(), "by hand", true); err != nil {
					t.Fatal(err)
				}
			},
			want:       "nil",
			wantRuns:   []string{"batch written <id>#2 0"},
			wantStatus: runs.Failed,
			wantSink:   []string{"write " + part0 + " 3"},
		},
		{
			name: "redelivered batch of an interrupted commit finishes the commit",
			body: batch(1),
			prep: func(t *testing.T, st *runstest.Store, run contracts.Run) {
				written(2, 0, 1)(t, st, run)
				if _, won, err := st.BeginCommit(context.Background(), run); !won || err != nil {
					t.Fatalf("begin commit = %v, %v", won, err)
				}
			},
			want:       "nil",
			wantRuns:   []string{"batch written <id>#2 1", "commit <id>#2 orders/dt=2026-11-01 COMMITTING"},
			wantStatus: runs.Committing,
			wantSink:   []string{"write " + part1 + " 3"},
		},
		{
			name:       "corrupt batch is permanent and not written",
			body:       corrupt,
			want:       "permanent",
			cause:      pack.ErrCorruptBatch,
			wantRuns:   []string{"fail <id>#2 permanent"},
			wantStatus: runs.Failed,
		},
		{
			name:       "corrupt batch without its checksum is permanent and not written",
			body:       withoutCRC(corrupt, false),
			want:       "permanent",
			cause:      pack.ErrCorruptBatch,
			wantRuns:   []string{"fail <id>#2 permanent"},
			wantStatus: runs.Failed,
		},
		{
			// A writer older than the fetcher (a field it does not know)
			// cannot count the batch: the run is FAILED with why, not left
			// RUNNING for a batch that will never be counted.
			name: "a batch naming its run that this writer cannot read fails the run and is parked",
			body: func(run contracts.Run) []byte {
				return bytes.Replace(batch(0)(run), []byte(`{`), []byte(`{"newer":1,`), 1)
			},
			want:       "permanent",
			wantRuns:   []string{"fail <id>#2 permanent"},
			wantStatus: runs.Failed,
		},
		{
			name: "a Done naming its run that this writer cannot read fails the run",
			body: func(run contracts.Run) []byte {
				return bytes.Replace(done(2)(run), []byte(`{`), []byte(`{"newer":1,`), 1)
			},
			want:       "permanent",
			wantRuns:   []string{"fail <id>#2 permanent"},
			wantStatus: runs.Failed,
		},
		{
			name:       "a message naming no run is parked and touches no run",
			body:       func(contracts.Run) []byte { return []byte(`{"v":1,"kind":"batch","seq":0}`) },
			want:       "permanent",
			wantStatus: runs.Running,
		},
		{
			name:       "a batch that conflicts with the stored one is permanent",
			body:       batch(0),
			writeErr:   fault.Permanent(sink.ErrConflict),
			want:       "permanent",
			cause:      sink.ErrConflict,
			wantRuns:   []string{"fail <id>#2 permanent"},
			wantStatus: runs.Failed,
			wantSink:   []string{"write " + part0 + " 3"},
		},
		{
			name:       "runs table unavailable is retried",
			body:       batch(0),
			writtenErr: fault.Retryable(errors.New("dynamodb: throttled")),
			want:       "retry",
			wantRuns:   []string{"batch written <id>#2 0"},
			wantStatus: runs.Running,
			wantSink:   []string{"write " + part0 + " 3"},
		},
		{
			name:       "S3 failure is retried and the batch not counted",
			body:       batch(0),
			writeErr:   s3Down,
			want:       "retry",
			cause:      s3Down,
			wantStatus: runs.Running,
			wantSink:   []string{"write " + part0 + " 3"},
		},
		{
			name:       "S3 failure on the last delivery marks the run FAILED and parks the message",
			body:       batch(0),
			writeErr:   s3Down,
			receive:    5,
			want:       "parked",
			cause:      s3Down,
			wantRuns:   []string{"fail <id>#2 retries-exhausted"},
			wantStatus: runs.Failed,
			wantSink:   []string{"write " + part0 + " 3"},
		},
		{
			name:       "Done before the last batch does not commit",
			body:       done(2),
			prep:       written(-1, 0),
			want:       "nil",
			wantRuns:   []string{"set totals <id>#2 2 6 900"},
			wantStatus: runs.Running,
		},
		{
			name:     "Done after every batch commits",
			body:     done(2),
			prep:     written(-1, 1, 0),
			won:      true,
			want:     "nil",
			wantRuns: []string{"set totals <id>#2 2 6 900", commitRunning},
		},
		{
			name:     "Done of a run with no batches commits",
			body:     done(0),
			won:      true,
			want:     "nil",
			wantRuns: []string{"set totals <id>#2 0 6 900", commitRunning},
		},
		{
			name:       "Done of a stale attempt is dropped",
			body:       staleDone,
			want:       "nil",
			wantRuns:   []string{"set totals <id>#1 2 6 900"},
			wantStatus: runs.Running,
		},
		{
			name:      "commit fenced by a newer attempt is dropped",
			body:      done(2),
			prep:      written(-1, 0, 1),
			commitErr: fencedByNewer,
			want:      "nil",
			wantRuns:  []string{"set totals <id>#2 2 6 900", commitRunning},
		},
		{
			name:      "commit failure is retried",
			body:      done(2),
			prep:      written(-1, 0, 1),
			commitErr: s3Down,
			want:      "retry",
			cause:     s3Down,
			wantRuns:  []string{"set totals <id>#2 2 6 900", commitRunning},
		},
		{
			name:       "commit failure on the last delivery marks the run FAILED and parks the message",
			body:       done(2),
			prep:       written(-1, 0, 1),
			commitErr:  s3Down,
			receive:    5,
			want:       "parked",
			wantRuns:   []string{"set totals <id>#2 2 6 900", commitRunning, "fail <id>#2 retries-exhausted"},
			wantStatus: runs.Failed,
		},
		{name: "garbage body is permanent", body: fixed([]byte("not json at all")), want: "permanent"},
		{name: "another kind of message is permanent", body: fixed([]byte(`{"v":1,"kind":"input","source":"orders","window":"2026-11-01","trigger":"manual"}`)), want: "permanent"},
		{name: "batch without data is permanent", body: fixed([]byte(`{"v":1,"kind":"batch","source":"orders","window":"2026-11-01","run_id":"r-7","attempt":2,"seq":0,"count":1,"raw_bytes":3,"encoding":"gzip-jsonl","data":""}`)), want: "permanent", wantRuns: []string{"fail r-7#2 permanent"}},
		{name: "batch of an unknown source is permanent", body: fixed(batchBodies(t, contracts.Run{Source: "ghost", Window: "2026-11-01", RunID: "r-1", Attempt: 1}, 1)[0]), want: "permanent", wantRuns: []string{"fail r-1#1 permanent"}},
		{name: "batch with an hour window for a daily source is permanent", body: fixed(batchBodies(t, contracts.Run{Source: "orders", Window: "2026-11-01T05", RunID: "r-1", Attempt: 1}, 1)[0]), want: "permanent", wantRuns: []string{"fail r-1#1 permanent"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := demoPipeline(t)
			now := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
			st := runstest.New(runs.Config{Lease: time.Minute}, func() time.Time { return now })
			run := restartedRun(t, st, &now)
			if tt.prep != nil {
				tt.prep(t, st, run)
			}
			tr := &trace{}
			rs := &tracedRuns{Store: st, trace: tr, writtenErr: tt.writtenErr}
			cm := &fakeCommitter{trace: tr, won: tt.won, err: tt.commitErr}
			sk := &fakeSink{objects: map[string][]byte{}, writeErr: tt.writeErr}
			h := &handler{pipeline: p, runs: rs, sink: sk, layout: sink.NewLayout(""), commits: cm}

			receive := tt.receive
			if receive == 0 {
				receive = 1
			}
			body := tt.body(run)
			// Through the delivery policy that gives up on the run, as served.
			err := consumer.GiveUp(h).Handle(context.Background(), consumer.Message{ID: "m-1", Body: body, ReceiveCount: receive, Last: receive >= 5})
			switch tt.want {
			case "nil":
				if err != nil {
					t.Fatalf("Handle = %v, want nil", err)
				}
			case "retry":
				if err == nil || fault.IsPermanent(err) {
					t.Fatalf("Handle = %v, want a retryable error", err)
				}
			case "permanent":
				if !fault.IsPermanent(err) || errors.Is(err, consumer.ErrRetriesExhausted) {
					t.Fatalf("Handle = %v, want a permanent error", err)
				}
			case "parked":
				if !fault.IsPermanent(err) || !errors.Is(err, consumer.ErrRetriesExhausted) {
					t.Fatalf("Handle = %v, want the consumer to park it: retries exhausted", err)
				}
			}
			if tt.cause != nil && !errors.Is(err, tt.cause) {
				t.Fatalf("Handle = %v, want it to wrap %v", err, tt.cause)
			}
			var wantRuns []string
			for _, c := range tt.wantRuns {
				wantRuns = append(wantRuns, strings.ReplaceAll(c, "<id>", run.RunID))
			}
			if !slices.Equal(tr.calls, wantRuns) {
				t.Fatalf("runs calls:\n got %q\nwant %q", tr.calls, wantRuns)
			}
			if !slices.Equal(sk.calls, tt.wantSink) {
				t.Fatalf("sink calls:\n got %q\nwant %q", sk.calls, tt.wantSink)
			}
			if tt.wantBytes != "" && !bytes.Equal(sk.objects[tt.wantBytes], gzipOf(t, body)) {
				t.Fatalf("object %s is not the batch's gzip stream byte for byte", tt.wantBytes)
			}
			for _, r := range cm.committed {
				if r != run {
					t.Fatalf("committed %+v, want %+v", r, run)
				}
			}
			if tt.wantStatus != "" {
				if cur, err := st.Get(context.Background(), run.Key()); err != nil || cur.Status != tt.wantStatus || cur.Attempt != run.Attempt {
					t.Fatalf("run after the message = %+v, %v; want attempt %d %s", cur, err, run.Attempt, tt.wantStatus)
				}
			}
		})
	}
}
