package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/sluice-data/sluice/shared/commit"
	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/demoapi"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/sink"
)

// theRun is attempt 2 of orders/2026-11-01.
var theRun = contracts.Run{Source: "orders", Window: "2026-11-01", RunID: "r-7", Attempt: 2}

const partition = "source=orders/dt=2026-11-01/"

// stored returns the run record as the store would hold it for theRun.
func stored(status runs.Status, expected *int, written ...int) runs.Run {
	return runs.Run{
		Input: theRun.Key(), Source: theRun.Source, Window: theRun.Window, RunID: theRun.RunID, Attempt: theRun.Attempt,
		Status: status, BatchesExpected: expected, Written: written, Records: 6, Bytes: 900,
	}
}

func ptr(n int) *int { return &n }

// answers are what the fakes return.
type answers struct {
	written    runs.Run // BatchWritten's answer
	writtenErr error
	totals     runs.Run // SetTotals' answer
	totalsErr  error
	won        bool
	commitErr  error
}

// fakeRuns answers each call as told, and records the call; it also plays
// the committer, so that the order of calls across both is checked.
type fakeRuns struct {
	answers
	mu        sync.Mutex
	calls     []string
	committed []contracts.Run
}

var (
	_ runStore  = (*fakeRuns)(nil)
	_ committer = (*fakeRuns)(nil)
)

func (f *fakeRuns) record(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeRuns) BatchWritten(_ context.Context, r contracts.Run, seq int) (runs.Run, error) {
	f.record("batch written %s#%d %d", r.RunID, r.Attempt, seq)
	return f.written, f.writtenErr
}

func (f *fakeRuns) SetTotals(_ context.Context, r contracts.Run, batches int, records, bytes int64) (runs.Run, error) {
	f.record("set totals %s#%d %d %d %d", r.RunID, r.Attempt, batches, records, bytes)
	return f.totals, f.totalsErr
}

func (f *fakeRuns) Commit(_ context.Context, run runs.Run, p sink.Partition) (commit.Result, error) {
	f.record("commit %s#%d %s/%s %s", run.RunID, run.Attempt, p.Source, p.Hive, run.Status)
	f.mu.Lock()
	f.committed = append(f.committed, run.Ref())
	f.mu.Unlock()
	return commit.Result{Won: f.won, Published: f.won, Objects: 2}, f.commitErr
}

func (f *fakeRuns) Fail(_ context.Context, r contracts.Run, class, msg string) error {
	f.record("fail %s#%d %s", r.RunID, r.Attempt, class)
	return nil
}

// fakeSink keeps the objects written. Keys come from a real sink.Sink, so
// the test checks the real layout.
type fakeSink struct {
	*sink.Sink
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

// batchBodies packs n batches of three records each for run, as the
// fetcher does.
func batchBodies(t *testing.T, run contracts.Run, n int) [][]byte {
	t.Helper()
	p := contracts.NewPacker(run, 32<<10)
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

func TestHandle(t *testing.T) {
	batches := batchBodies(t, theRun, 2)
	stale := batchBodies(t, contracts.Run{Source: "orders", Window: "2026-11-01", RunID: "r-6", Attempt: 1}, 1)[0]
	// The header says two records where the payload holds three.
	corrupt := bytes.Replace(batches[0], []byte(`"count":3,`), []byte(`"count":2,`), 1)
	if bytes.Equal(corrupt, batches[0]) {
		t.Fatal("could not corrupt the batch")
	}
	fenced := &runs.FencedError{Op: "mark batch written", Ref: theRun, Attempt: theRun.Attempt, Status: runs.Failed}
	fencedByNewer := &runs.FencedError{Op: "mark batch written", Ref: theRun, Attempt: 3, Status: runs.Running}
	// BatchWritten answers a run its attempt is committing with the run.
	committing := stored(runs.Committing, ptr(2), 0, 1)
	s3Down := fault.Retryable(errors.New("s3: slow down"))
	part0 := "data/" + partition + "attempt=2/part-000000.jsonl.gz"
	part1 := "data/" + partition + "attempt=2/part-000001.jsonl.gz"
	commitRunning := "commit r-7#2 orders/dt=2026-11-01 RUNNING"

	tests := []struct {
		name      string
		body      []byte
		runs      answers
		writeErr  error
		want      string // "nil", "retry" or "permanent"
		cause     error
		wantRuns  []string
		wantSink  []string
		wantBytes map[string][]byte // objects stored
		receive   int               // the delivery; 1 when 0
	}{
		{
			name:      "batch is written under its attempt's keys and counted",
			body:      batches[0],
			runs:      answers{written: stored(runs.Running, nil, 0)},
			want:      "nil",
			wantRuns:  []string{"batch written r-7#2 0"},
			wantSink:  []string{"write " + part0 + " 3"},
			wantBytes: map[string][]byte{part0: gzipOf(t, batches[0])},
		},
		{
			name:     "batch that is not the last leaves the run open",
			body:     batches[0],
			runs:     answers{written: stored(runs.Running, ptr(2), 0)},
			want:     "nil",
			wantRuns: []string{"batch written r-7#2 0"},
			wantSink: []string{"write " + part0 + " 3"},
		},
		{
			name:      "batch that completes the run commits it",
			body:      batches[1],
			runs:      answers{written: stored(runs.Running, ptr(2), 0, 1), won: true},
			want:      "nil",
			wantRuns:  []string{"batch written r-7#2 1", commitRunning},
			wantSink:  []string{"write " + part1 + " 3"},
			wantBytes: map[string][]byte{part1: gzipOf(t, batches[1])},
		},
		{
			name:     "commit joined with a concurrent writer is fine",
			body:     batches[1],
			runs:     answers{written: stored(runs.Running, ptr(2), 0, 1), won: false},
			want:     "nil",
			wantRuns: []string{"batch written r-7#2 1", commitRunning},
			wantSink: []string{"write " + part1 + " 3"},
		},
		{
			name:     "batch of a stale attempt: written under its own keys, never counted, dropped",
			body:     stale,
			runs:     answers{writtenErr: fencedByNewer},
			want:     "nil",
			wantRuns: []string{"batch written r-6#1 0"},
			wantSink: []string{"write data/" + partition + "attempt=1/part-000000.jsonl.gz 3"},
		},
		{
			name:     "fenced while counting: dropped",
			body:     batches[0],
			runs:     answers{writtenErr: fenced},
			want:     "nil",
			wantRuns: []string{"batch written r-7#2 0"},
			wantSink: []string{"write " + part0 + " 3"},
		},
		{
			name:     "redelivered batch of an interrupted commit finishes the commit",
			body:     batches[1],
			runs:     answers{written: committing},
			want:     "nil",
			wantRuns: []string{"batch written r-7#2 1", "commit r-7#2 orders/dt=2026-11-01 COMMITTING"},
			wantSink: []string{"write " + part1 + " 3"},
		},
		{
			name:     "corrupt batch is permanent and not written",
			body:     corrupt,
			want:     "permanent",
			cause:    contracts.ErrCorruptBatch,
			wantRuns: []string{"fail r-7#2 permanent"},
		},
		{
			name:     "a batch that conflicts with the stored one is permanent",
			body:     batches[0],
			writeErr: fault.Permanent(sink.ErrConflict),
			want:     "permanent",
			cause:    sink.ErrConflict,
			wantRuns: []string{"fail r-7#2 permanent"},
			wantSink: []string{"write " + part0 + " 3"},
		},
		{
			name:     "runs table unavailable is retried",
			body:     batches[0],
			runs:     answers{writtenErr: fault.Retryable(errors.New("dynamodb: throttled"))},
			want:     "retry",
			wantRuns: []string{"batch written r-7#2 0"},
			wantSink: []string{"write " + part0 + " 3"},
		},
		{
			name:     "S3 failure is retried and the batch not counted",
			body:     batches[0],
			writeErr: s3Down,
			want:     "retry",
			cause:    s3Down,
			wantSink: []string{"write " + part0 + " 3"},
		},
		{
			name:     "S3 failure on the last delivery marks the run FAILED before the DLQ",
			body:     batches[0],
			writeErr: s3Down,
			receive:  5,
			want:     "retry",
			cause:    s3Down,
			wantRuns: []string{"fail r-7#2 retries-exhausted"},
			wantSink: []string{"write " + part0 + " 3"},
		},
		{
			name:     "Done before the last batch does not commit",
			body:     doneBody(theRun, 2),
			runs:     answers{totals: stored(runs.Running, ptr(2), 0)},
			want:     "nil",
			wantRuns: []string{"set totals r-7#2 2 6 900"},
		},
		{
			name:     "Done after every batch commits",
			body:     doneBody(theRun, 2),
			runs:     answers{totals: stored(runs.Running, ptr(2), 1, 0), won: true},
			want:     "nil",
			wantRuns: []string{"set totals r-7#2 2 6 900", commitRunning},
		},
		{
			name:     "Done of a run with no batches commits",
			body:     doneBody(theRun, 0),
			runs:     answers{totals: stored(runs.Running, ptr(0)), won: true},
			want:     "nil",
			wantRuns: []string{"set totals r-7#2 0 6 900", commitRunning},
		},
		{
			name:     "Done of a stale attempt is dropped",
			body:     doneBody(theRun, 2),
			runs:     answers{totalsErr: fencedByNewer},
			want:     "nil",
			wantRuns: []string{"set totals r-7#2 2 6 900"},
		},
		{
			name:     "commit fenced by a newer attempt is dropped",
			body:     doneBody(theRun, 2),
			runs:     answers{totals: stored(runs.Running, ptr(2), 0, 1), commitErr: fencedByNewer},
			want:     "nil",
			wantRuns: []string{"set totals r-7#2 2 6 900", commitRunning},
		},
		{
			name:     "commit failure is retried",
			body:     doneBody(theRun, 2),
			runs:     answers{totals: stored(runs.Running, ptr(2), 0, 1), commitErr: s3Down},
			want:     "retry",
			cause:    s3Down,
			wantRuns: []string{"set totals r-7#2 2 6 900", commitRunning},
		},
		{
			name:     "commit failure on the last delivery marks the run FAILED",
			body:     doneBody(theRun, 2),
			runs:     answers{totals: stored(runs.Running, ptr(2), 0, 1), commitErr: s3Down},
			receive:  5,
			want:     "retry",
			wantRuns: []string{"set totals r-7#2 2 6 900", commitRunning, "fail r-7#2 retries-exhausted"},
		},
		{name: "garbage body is permanent", body: []byte("not json at all"), want: "permanent"},
		{name: "another kind of message is permanent", body: []byte(`{"v":1,"kind":"input","source":"orders","window":"2026-11-01","trigger":"manual"}`), want: "permanent"},
		{name: "batch without data is permanent", body: []byte(`{"v":1,"kind":"batch","source":"orders","window":"2026-11-01","run_id":"r-7","attempt":2,"seq":0,"count":1,"raw_bytes":3,"encoding":"gzip-jsonl","data":""}`), want: "permanent"},
		{name: "batch of an unknown source is permanent", body: batchBodies(t, contracts.Run{Source: "ghost", Window: "2026-11-01", RunID: "r-1", Attempt: 1}, 1)[0], want: "permanent", wantRuns: []string{"fail r-1#1 permanent"}},
		{name: "batch with an hour window for a daily source is permanent", body: batchBodies(t, contracts.Run{Source: "orders", Window: "2026-11-01T05", RunID: "r-1", Attempt: 1}, 1)[0], want: "permanent", wantRuns: []string{"fail r-1#1 permanent"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := pipeline.Parse("demo.yaml", []byte(demoapi.PipelineYAML("http://api.test", nil)))
			if err != nil {
				t.Fatal(err)
			}
			rs := &fakeRuns{answers: tt.runs}
			sk := &fakeSink{Sink: sink.New(nil, "sluice-data", ""), objects: map[string][]byte{}, writeErr: tt.writeErr}
			h := &handler{pipeline: p, runs: rs, sink: sk, commits: rs, maxReceive: 5}

			receive := tt.receive
			if receive == 0 {
				receive = 1
			}
			err = h.Handle(context.Background(), consumer.Message{ID: "m-1", Body: tt.body, ReceiveCount: receive})
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
				if !fault.IsPermanent(err) {
					t.Fatalf("Handle = %v, want a permanent error", err)
				}
			}
			if tt.cause != nil && !errors.Is(err, tt.cause) {
				t.Fatalf("Handle = %v, want it to wrap %v", err, tt.cause)
			}
			if !slices.Equal(rs.calls, tt.wantRuns) {
				t.Fatalf("runs calls:\n got %q\nwant %q", rs.calls, tt.wantRuns)
			}
			if !slices.Equal(sk.calls, tt.wantSink) {
				t.Fatalf("sink calls:\n got %q\nwant %q", sk.calls, tt.wantSink)
			}
			for key, want := range tt.wantBytes {
				if !bytes.Equal(sk.objects[key], want) {
					t.Fatalf("object %s is not the batch's gzip stream byte for byte", key)
				}
			}
			for _, r := range rs.committed {
				if r != theRun {
					t.Fatalf("committed %+v, want %+v", r, theRun)
				}
			}
		})
	}
}
