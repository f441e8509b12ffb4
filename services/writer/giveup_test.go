package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/sluice-data/sluice/services/writer/commit"
	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/logging"
	"github.com/sluice-data/sluice/shared/metrics"
	"github.com/sluice-data/sluice/shared/metrics/metricstest"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/runs/runstest"
	"github.com/sluice-data/sluice/shared/sink"
)

// objectsAt is an object store holding every part of the runs it is
// asked about, with a pointer that moves as Publish moves it, and the
// failures a test sets.
type objectsAt struct {
	layout     sink.Layout
	pointer    sink.Pointer
	partsErr   error
	publishErr error
	removeErr  error
}

func (o *objectsAt) Staged(_ context.Context, p sink.Partition, attempt int) ([]sink.Part, []sink.File, error) {
	if o.partsErr != nil {
		return nil, nil, o.partsErr
	}
	return []sink.Part{{Key: o.layout.PartKey(p, attempt, 0), Seq: 0}, {Key: o.layout.PartKey(p, attempt, 1), Seq: 1}}, nil, nil
}

func (o *objectsAt) WriteManifest(_ context.Context, _ sink.Partition, m sink.Manifest) (sink.Manifest, error) {
	return m, nil
}

func (o *objectsAt) Publish(_ context.Context, _ sink.Partition, m sink.Manifest) (sink.Publication, error) {
	if o.publishErr != nil {
		return sink.Publication{}, o.publishErr
	}
	if o.pointer.Attempt >= m.Attempt {
		return sink.Publication{Attempt: o.pointer.Attempt, Replaced: o.pointer.Replaced}, nil
	}
	prev := o.pointer.Attempt
	o.pointer = sink.Pointer{Attempt: m.Attempt, RunID: m.RunID, Replaced: prev}
	for _, key := range m.Keys() {
		o.pointer.URIs = append(o.pointer.URIs, "s3://bucket/"+key)
	}
	return sink.Publication{Attempt: m.Attempt, Replaced: prev, Moved: true}, nil
}

// The staged parts are empty; compaction writes files of nothing.

func (o *objectsAt) Open(context.Context, string) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("")), nil
}

func (o *objectsAt) Concat(_ context.Context, key, _ string, _ map[string]string, _ []sink.Part) (sink.Uploaded, error) {
	return sink.Uploaded{Key: key}, nil
}

func (o *objectsAt) Upload(_ context.Context, key, _ string, _ map[string]string, write func(io.Writer) error) (sink.Uploaded, error) {
	return sink.Uploaded{Key: key}, write(io.Discard)
}

func (o *objectsAt) FileKey(p sink.Partition, attempt, first, last int, ext string) string {
	return o.layout.FileKey(p, attempt, first, last, ext)
}

func (o *objectsAt) ReadManifest(context.Context, sink.Partition, int) (sink.Manifest, error) {
	return sink.Manifest{}, sink.ErrNoManifest
}

func (o *objectsAt) LatestSchema(context.Context, string) (sink.SourceSchema, error) {
	return sink.SourceSchema{}, sink.ErrNoSchema
}

func (o *objectsAt) SetLatestSchema(context.Context, string, sink.SourceSchema) error { return nil }

func (o *objectsAt) CleanUp(context.Context, sink.Partition, int, int, sink.Own, []string) (int, int, error) {
	return 0, 0, o.removeErr
}

func (o *objectsAt) Current(context.Context, sink.Partition) (sink.Pointer, error) {
	if o.pointer.Attempt == 0 {
		return sink.Pointer{}, sink.ErrNoPointer
	}
	return o.pointer, nil
}

// finishFails is the in-memory run store whose FinishCommit fails
// retryably (DynamoDB throttling) while err is set. With elsewhere set,
// only the commit's own FinishCommit fails: the next one — the give-up's,
// after Fail saw the run COMMITTING — finds the commit finished by another
// committer of the attempt in between (the real race): it applies through
// the store, as that committer's did, and then answers as the store does
// to a run already SUCCEEDED, (false, nil).
type finishFails struct {
	*runstest.Store
	err       error
	elsewhere bool
	calls     int
}

func (f *finishFails) FinishCommit(ctx context.Context, r contracts.Run, objects int) (bool, error) {
	f.calls++
	if f.elsewhere && f.calls > 1 {
		if _, err := f.Store.FinishCommit(ctx, r, objects); err != nil { // the other committer's
			return false, err
		}
		return f.Store.FinishCommit(ctx, r, objects)
	}
	if f.err != nil {
		return false, f.err
	}
	return f.Store.FinishCommit(ctx, r, objects)
}

// A commit that fails retryably on the message's last receive: before
// its publish the run is FAILED (the input is free), but once the
// partition shows the attempt the run must never be FAILED — the give-up
// finishes the commit, or leaves it COMMITTING when even that fails. And
// a run is never SUCCEEDED unless the partition shows its attempt. The
// run's end is counted once, by the call that ended it: RunsSucceeded by
// the give-up that finished the commit, RunsFailed by the commit or
// give-up that marked it FAILED.
func TestGiveUpNeverFailsAPublishedRun(t *testing.T) {
	throttled := fault.Retryable(errors.New("ProvisionedThroughputExceededException"))
	s3Down := fault.Retryable(errors.New("S3 503 SlowDown"))
	tests := []struct {
		name       string
		objects    objectsAt
		finishErr  error
		wantStatus runs.Status
		wantPtr    int // the attempt the partition shows after (0: none)
		// wantDeleted: the give-up finished the run, so the message is no
		// longer needed and is deleted (Handle returns nil); otherwise it
		// is parked with the commit's error.
		wantDeleted bool
		elsewhere   bool               // another committer finishes the commit first
		wantMetrics map[string]float64 // RunsSucceeded and RunsFailed over the message's lines
	}{
		{"listing the parts fails: not published, FAILED", objectsAt{partsErr: s3Down}, nil, runs.Failed, 0, false, false,
			map[string]float64{"RunsFailed": 1}},
		{"the publish fails: not published, FAILED", objectsAt{publishErr: s3Down}, nil, runs.Failed, 0, false, false,
			map[string]float64{"RunsFailed": 1}},
		{"the clean-up after the publish fails: SUCCEEDED", objectsAt{removeErr: s3Down}, nil, runs.Succeeded, 2, true, false,
			map[string]float64{"RunsSucceeded": 1}},
		{"the final update is throttled: left COMMITTING", objectsAt{}, throttled, runs.Committing, 2, false, false,
			map[string]float64{}},
		{"another committer finishes it: SUCCEEDED, counted by that one", objectsAt{}, throttled, runs.Succeeded, 2, true, true,
			map[string]float64{}},
		// The run item was lost (restored, replaced, deleted) and the
		// attempts began again below what the partition shows.
		{"the partition shows a higher attempt: FAILED, never SUCCEEDED", objectsAt{pointer: sink.Pointer{Attempt: 3}}, nil, runs.Failed, 3, false, false,
			map[string]float64{"RunsFailed": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := demoPipeline(t)
			now := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
			st := runstest.New(runs.Config{Lease: time.Minute}, func() time.Time { return now })
			run := restartedRun(t, st, &now)
			written(-1, 0, 1)(t, st, run)
			objects := tt.objects
			objects.layout = sink.NewLayout("")
			rs := &finishFails{Store: st, err: tt.finishErr, elsewhere: tt.elsewhere}
			h := &handler{pipeline: p, runs: rs, sink: &fakeSink{objects: map[string][]byte{}}, layout: objects.layout, commits: commit.New(rs, &objects),
				metrics: metrics.New("Sluice", "writer")}

			var logs bytes.Buffer
			ctx, _ := logging.WithScope(context.Background(),
				zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&logs), zap.InfoLevel)))
			err := consumer.GiveUp(h).Handle(ctx, consumer.Message{ID: "m-1", Body: doneBody(run, 2), ReceiveCount: 5, Last: true, Final: true})
			switch {
			case tt.wantDeleted && err != nil:
				t.Fatalf("Handle = %v, want nil: the run is finished, the message no longer needed", err)
			case !tt.wantDeleted && !fault.IsPermanent(err):
				t.Fatalf("Handle = %v, want the commit's error, permanent, for the message to be parked", err)
			}
			cur, err := st.Get(context.Background(), run.Key())
			if err != nil || cur.Attempt != run.Attempt || cur.Status != tt.wantStatus {
				t.Fatalf("run after the last receive = %s attempt %d (%s), %v; want %s (the partition shows attempt %d)",
					cur.Status, cur.Attempt, cur.LastError, err, tt.wantStatus, objects.pointer.Attempt)
			}
			if tt.elsewhere && rs.calls != 2 {
				t.Fatalf("FinishCommit called %d times, want 2: the commit's, then the give-up's", rs.calls)
			}
			if objects.pointer.Attempt != tt.wantPtr {
				t.Fatalf("the partition shows attempt %d, want %d", objects.pointer.Attempt, tt.wantPtr)
			}
			totals, err := metricstest.Totals(logs.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"RunsSucceeded", "RunsFailed"} {
				if totals[name] != tt.wantMetrics[name] {
					t.Errorf("%s = %v over the message's lines, want %v:\n%s", name, totals[name], tt.wantMetrics[name], logs.String())
				}
			}
		})
	}
}

// A message that gives up while another message of its attempt commits
// — a duplicate batch whose write fails on its last receive, while the
// Done is between the commit decision and the publish — must not fail the
// run under that commit: COMMITTING means every batch is counted, so the
// message's work is done (superseded) and the commit is the committer's
// to finish.
func TestGiveUpOfAMessageThatDoesNotCommitLeavesTheCommitAlone(t *testing.T) {
	p := demoPipeline(t)
	now := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	st := runstest.New(runs.Config{Lease: time.Minute}, func() time.Time { return now })
	run := restartedRun(t, st, &now)
	written(2, 0, 1)(t, st, run)
	if _, won, err := st.BeginCommit(context.Background(), run); err != nil || !won {
		t.Fatalf("BeginCommit = %v, %v", won, err) // the Done's commit, now between its decision and its publish
	}
	objects := objectsAt{layout: sink.NewLayout("")}
	h := &handler{pipeline: p, runs: st, sink: &fakeSink{objects: map[string][]byte{}, writeErr: fault.Retryable(errors.New("S3 503 SlowDown"))},
		layout: objects.layout, commits: commit.New(st, &objects)}

	dup := batchBodies(t, run, 1)[0] // batch 0 again: the fetcher's send retried
	err := consumer.GiveUp(h).Handle(context.Background(), consumer.Message{ID: "m-dup", Body: dup, ReceiveCount: 4, Last: true})
	if err != nil {
		t.Fatalf("Handle = %v, want nil: the batch is counted, the message superseded", err)
	}
	if cur, err := st.Get(context.Background(), run.Key()); err != nil || cur.Status != runs.Committing {
		t.Fatalf("run = %s (%s), %v; want COMMITTING, left to its committer", cur.Status, cur.LastError, err)
	}
}
