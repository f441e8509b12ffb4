// Package commit makes a complete attempt the output of its input, exactly
// once, in an order that keeps every failure safe:
//
//  1. BeginCommit (DynamoDB, conditional): RUNNING → COMMITTING, only for
//     the current attempt with every batch 0…n-1 written. This is the one
//     decision; a stale or incomplete attempt stops here. A later
//     committer of the COMMITTING attempt (a continuation, a redelivery)
//     renews its lease there, and again before each further file it
//     compacts (RenewCommit): a commit that keeps working keeps its input.
//  2. Unless the attempt's manifest exists (an earlier try got past step
//     4), check that S3 holds the batches 0…n-1 of the attempt, each once
//     in the parts picked (sink.Tile: for each block its block object if
//     it exists, else its single parts), and
//  3. compact them into the files that are published (package compact:
//     near output.file_size, each complete or absent). A compaction that
//     would outlast the invocation stops between two files: Commit
//     returns Result.Continue, and the caller continues the commit in a
//     new invocation, which resumes after the last file written.
//  4. Write the attempt's manifest (v2: the files), _SUCCESS, once
//     (If-None-Match); when another committer wrote it first, its
//     manifest is the one published. Only files of the output's format
//     (and parquet schema) are reused from an earlier try.
//  5. Publish: point the partition at the attempt's files (one atomic
//     PUT, only over a lower attempt). A pointer already above the
//     attempt (the run item lost its counter) ends the commit as a
//     permanent error: a run is SUCCEEDED only when the partition shows
//     its attempt.
//  6. Remove (one listing of the partition: sink.CleanUp) the objects of
//     lower attempts, except the one just replaced
//     (queries that started before the swap may still be reading it),
//     and the attempt's own staged parts and unpublished files; higher
//     attempts are never touched.
//  7. FinishCommit (DynamoDB, conditional): COMMITTING → SUCCEEDED.
//
// A crash anywhere leaves the run COMMITTING; the redelivered message
// finds it so (BatchWritten and SetTotals return the COMMITTING run) and
// runs the same steps again, all of which are idempotent. Readers never
// see a partial attempt: before step 5 they see the previous attempt,
// after it the new one.
//
// A commit given up on (a permanent error, or a retryable one on its
// message's last receive: GiveUp) is ended by what the partition shows: a
// published run is finished, never FAILED; only an unpublished one fails.
//
// The writer is its only user, so the package lives beside it.
package commit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluice-data/sluice/services/writer/compact"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/sink"
)

// RunStore moves runs through the commit; *runs.Store is one.
type RunStore interface {
	BeginCommit(ctx context.Context, r contracts.Run) (runs.Run, bool, error)
	RenewCommit(ctx context.Context, r contracts.Run) (runs.Run, error)
	FinishCommit(ctx context.Context, r contracts.Run, objects int) (bool, error)
	SetSchema(ctx context.Context, r contracts.Run, fingerprint, change string) error
	FailCommit(ctx context.Context, r contracts.Run, class, msg string) error
}

// ObjectStore holds the attempts' objects; *sink.Sink is one.
type ObjectStore interface {
	compact.Store
	Staged(ctx context.Context, p sink.Partition, attempt int) ([]sink.Part, []sink.File, error)
	ReadManifest(ctx context.Context, p sink.Partition, attempt int) (sink.Manifest, error)
	WriteManifest(ctx context.Context, p sink.Partition, m sink.Manifest) (sink.Manifest, error)
	CleanUp(ctx context.Context, p sink.Partition, attempt, replaced int, own sink.Own, published []string) (removed, staged int, err error)
	LatestSchema(ctx context.Context, source string) (sink.SourceSchema, error)
	SetLatestSchema(ctx context.Context, source string, ss sink.SourceSchema) error
	Publish(ctx context.Context, p sink.Partition, m sink.Manifest) (sink.Publication, error)
	Current(ctx context.Context, p sink.Partition) (sink.Pointer, error)
}

var (
	_ RunStore    = (*runs.Store)(nil)
	_ ObjectStore = (*sink.Sink)(nil)
)

// ClassBelowPublished is the error class of a run FAILED because the
// partition already showed a higher attempt than its own.
const ClassBelowPublished = "below-published"

// Committer commits runs.
type Committer struct {
	runs    RunStore
	objects ObjectStore
	now     func() time.Time
	outputs func(source string) pipeline.Output
	reserve time.Duration
}

// Option changes how a Committer works.
type Option func(*Committer)

// WithClock makes the committer stamp manifests, and time its compaction
// against the context's deadline, from now instead of time.Now.
func WithClock(now func() time.Time) Option { return func(c *Committer) { c.now = now } }

// WithOutputs says each source's output (format, file size); without it
// every source's is the default: jsonl in files of 128 MiB.
func WithOutputs(of func(source string) pipeline.Output) Option {
	return func(c *Committer) { c.outputs = of }
}

// WithReserve is the time a compaction keeps in hand before the
// context's deadline when it starts a file (compact.New).
func WithReserve(d time.Duration) Option { return func(c *Committer) { c.reserve = d } }

// New returns a Committer that moves runs through runs and their objects
// through objects.
func New(runs RunStore, objects ObjectStore, opts ...Option) *Committer {
	c := &Committer{runs: runs, objects: objects, now: time.Now, outputs: func(string) pipeline.Output {
		return pipeline.Output{Format: pipeline.JSONL, FileSize: pipeline.DefaultFileSize}
	}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Result says what a Commit did.
type Result struct {
	// Won is true for the one caller that decided the commit (step 1);
	// others that found it decided helped finish it.
	Won bool
	// Finished is true for the one call that moved the run to SUCCEEDED
	// (step 7): whichever invocation that is — the one that won step 1, a
	// continuation, a retry — it reports the run's success, once.
	Finished bool
	// Published is true when this call moved the partition's pointer.
	Published bool
	// Replaced is the attempt the partition showed before (0: none).
	Replaced int
	// Removed counts the objects of other attempts deleted.
	Removed int
	// Staged counts the attempt's own staged parts deleted, and its files
	// the manifest does not list.
	Staged int
	// Objects counts the files published.
	Objects int
	Records int64
	// Continue is true when the compaction stopped before the deadline:
	// nothing is published yet, and the commit is to be continued in a new
	// invocation (Commit again with the COMMITTING run).
	Continue bool
	// Compacted counts the files this call wrote, in CompactTime;
	// StagedBytes and FileBytes are the attempt's parts' and files' sizes.
	Compacted   int
	CompactTime time.Duration
	StagedBytes int64
	FileBytes   int64
	// Schema is the fingerprint of the parquet files' schema (empty for
	// jsonl); SchemaChange, when the source's files were last published
	// with another schema, says which and where (for the caller to log).
	Schema       string
	SchemaChange string
	// Mismatches counts the values this call wrote as NULL because they
	// did not fit their column (parquet with a record column, which keeps
	// them), and FirstMismatch is the first: for the caller to log.
	Mismatches    int64
	FirstMismatch error
	// FailedClass is the error class this call marked the run FAILED
	// with (ClassBelowPublished), beside its error; "" when it did not.
	// The caller reports the run's failure, once.
	FailedClass string
}

// Commit commits run — a complete RUNNING run, or a COMMITTING one of the
// caller's attempt — whose output belongs at partition p. An error
// wrapping runs.ErrFenced means the attempt is no longer current: the
// caller drops its message.
func (c *Committer) Commit(ctx context.Context, run runs.Run, p sink.Partition) (Result, error) {
	ref := run.Ref()
	cur, won, err := c.runs.BeginCommit(ctx, ref)
	if err != nil {
		return Result{}, err
	}
	if cur.BatchesExpected == nil {
		return Result{}, fault.Permanentf("commit %s attempt %d: the run has no batch count", ref.Key(), ref.Attempt)
	}
	n := *cur.BatchesExpected
	m, err := c.objects.ReadManifest(ctx, p, ref.Attempt)
	var cres compact.Result
	var took time.Duration
	if errors.Is(err, sink.ErrNoManifest) {
		start := c.now()
		m, cres, err = c.compact(ctx, cur, p, n)
		took = c.now().Sub(start)
		if err != nil {
			return Result{}, err
		}
		if !cres.Done {
			return Result{Won: won, Continue: true, Compacted: cres.Written, CompactTime: took, Records: cur.Records,
				Mismatches: cres.Mismatches, FirstMismatch: cres.FirstMismatch}, nil
		}
		// Publish what _SUCCESS says: another committer of the attempt
		// may have written it first, with files cut otherwise.
		if m, err = c.objects.WriteManifest(ctx, p, m); err != nil {
			return Result{}, err
		}
	} else if err != nil {
		return Result{}, err
	}
	pub, err := c.objects.Publish(ctx, p, m)
	if err != nil {
		return Result{}, err
	}
	keys := m.Keys()
	res := Result{Won: won, Published: pub.Moved, Replaced: pub.Replaced, Objects: len(keys), Records: cur.Records,
		Compacted: cres.Written, CompactTime: took, StagedBytes: cres.StagedBytes, FileBytes: m.FileBytes(),
		Schema: m.SchemaFingerprint, Mismatches: cres.Mismatches, FirstMismatch: cres.FirstMismatch}
	if pub.Attempt != ref.Attempt {
		// The pointer is above the attempt. If a newer attempt owns the
		// run, this committer is stale (FailCommit is fenced: drop it).
		// Otherwise the run item lost its counter (restored, replaced,
		// deleted) and attempts began again below the partition: a run is
		// never SUCCEEDED unless the partition shows its attempt, so it is
		// FAILED, and the next claim numbers its attempt above the bucket's.
		msg := fmt.Sprintf("commit %s attempt %d: the partition already shows attempt %d, above this one: the run record "+
			"lost its attempt counter (restored, replaced or deleted), so this attempt is not published; the next claim is numbered above attempt %d",
			ref.Key(), ref.Attempt, pub.Attempt, pub.Attempt)
		if err := c.runs.FailCommit(ctx, ref, ClassBelowPublished, msg); err != nil {
			return res, err
		}
		res.FailedClass = ClassBelowPublished
		return res, fault.Permanent(errors.New(msg))
	}
	// Published now or by an earlier try of this commit: clean up below
	// it, keeping what it replaced for the readers still on it.
	if res.Removed, res.Staged, err = c.objects.CleanUp(ctx, p, ref.Attempt, pub.Replaced, own(m), keys); err != nil {
		return res, err
	}
	if m.SchemaFingerprint != "" && cur.Schema == "" {
		if res.SchemaChange, err = c.recordSchema(ctx, ref, m); err != nil {
			return res, err
		}
	}
	res.Finished, err = c.runs.FinishCommit(ctx, ref, len(keys))
	return res, err
}

// own is what the clean-up does with the published attempt's own
// objects: a v1 attempt published its parts, so only v2 removes its own;
// only a commit that wrote parquet files (multipart uploads) may have left
// an upload to abort.
func own(m sink.Manifest) sink.Own {
	switch {
	case m.V < sink.ManifestV2:
		return sink.OwnKept
	case m.Format == string(pipeline.JSONL):
		return sink.OwnStaged
	}
	return sink.OwnStagedAndUploads
}

// recordSchema records on the run the schema its files are published with
// and, when the source's files were last published with another, what it
// changed from; then makes it the source's latest. A commit retried after
// this keeps what the run holds (the latest is then its own schema).
func (c *Committer) recordSchema(ctx context.Context, ref contracts.Run, m sink.Manifest) (string, error) {
	prev, err := c.objects.LatestSchema(ctx, ref.Source)
	if err != nil && !errors.Is(err, sink.ErrNoSchema) {
		return "", err
	}
	change := ""
	if prev.Fingerprint != "" && prev.Fingerprint != m.SchemaFingerprint {
		change = fmt.Sprintf("%s (%s/%s attempt %d)", prev.Fingerprint, ref.Source, prev.Window, prev.Attempt)
	}
	if err := c.runs.SetSchema(ctx, ref, m.SchemaFingerprint, change); err != nil {
		return "", err
	}
	if prev.Fingerprint == m.SchemaFingerprint {
		return "", nil
	}
	return change, c.objects.SetLatestSchema(ctx, ref.Source, sink.SourceSchema{
		Fingerprint: m.SchemaFingerprint, Window: ref.Window, Attempt: ref.Attempt, Schema: m.Schema})
}

// compact checks the attempt's parts and compacts them; the manifest it
// returns is complete when the result is Done.
func (c *Committer) compact(ctx context.Context, cur runs.Run, p sink.Partition, n int) (sink.Manifest, compact.Result, error) {
	ref := cur.Ref()
	parts, files, err := c.objects.Staged(ctx, p, ref.Attempt)
	if err != nil {
		return sink.Manifest{}, compact.Result{}, err
	}
	if _, err := sink.Tile(parts, 0, n); err != nil {
		return sink.Manifest{}, compact.Result{}, fault.Permanent(fmt.Errorf("commit %s attempt %d: %w", ref.Key(), ref.Attempt, err))
	}
	out := c.outputs(ref.Source)
	res, err := compact.New(c.objects, c.reserve, c.now).Compact(ctx, compact.Request{
		Partition: p, Attempt: ref.Attempt, Batches: n, Parts: parts, Files: files, Output: out,
		Renew: func(ctx context.Context) error { _, err := c.runs.RenewCommit(ctx, ref); return err },
	})
	if err != nil {
		return sink.Manifest{}, res, fmt.Errorf("commit %s attempt %d: %w", ref.Key(), ref.Attempt, err)
	}
	m := sink.Manifest{
		V: sink.ManifestV2, Source: ref.Source, Window: ref.Window, RunID: ref.RunID, Attempt: ref.Attempt,
		Records: cur.Records, RawBytes: cur.Bytes, CommittedAt: c.now().UTC(), Format: string(out.Format), Files: res.Files,
		Schema: res.Schema, SchemaFingerprint: res.Fingerprint,
	}
	return m, res, nil
}

// Ending is how GiveUp ended a commit.
type Ending int

const (
	// EndedFailed: the partition does not show the attempt; the run is
	// FAILED and the input free.
	EndedFailed Ending = iota + 1
	// EndedSucceeded: the partition shows the attempt (the commit got past
	// its publish); GiveUp moved the run to SUCCEEDED, and its caller
	// reports the run's success, once.
	EndedSucceeded
	// EndedSucceededBefore: the partition shows the attempt and the run
	// was SUCCEEDED already (another committer of the attempt finished
	// it, and reported it).
	EndedSucceededBefore
)

func (e Ending) String() string {
	switch e {
	case EndedFailed:
		return "FAILED"
	case EndedSucceeded, EndedSucceededBefore:
		return "SUCCEEDED"
	}
	return "unended"
}

// GiveUp ends the commit of ref's COMMITTING run when its message is given
// up on, with class and msg as the failure: a published run is never
// marked FAILED. If the partition's pointer shows the attempt, the commit
// is finished (SUCCEEDED; a clean-up it missed is done by the next commit
// of the partition); otherwise the run is FAILED. When the pointer cannot
// be read or the run not changed, the error says so and the run stays
// COMMITTING, for a redelivery to finish or its lease to free.
//
// One window is left: a committer of the same attempt paused between its
// pointer check and its PUT (see Commit) can still publish an attempt
// this marked FAILED; the data is then complete and the next attempt
// publishes over it.
func (c *Committer) GiveUp(ctx context.Context, ref contracts.Run, p sink.Partition, class, msg string) (Ending, error) {
	ptr, err := c.objects.Current(ctx, p)
	switch {
	case errors.Is(err, sink.ErrNoPointer):
	case err != nil:
		return 0, fmt.Errorf("give up on the commit of %s attempt %d: %w", ref.Key(), ref.Attempt, err)
	case ptr.Attempt == ref.Attempt:
		finished, err := c.runs.FinishCommit(ctx, ref, len(ptr.URIs))
		switch {
		case err != nil:
			return 0, fmt.Errorf("give up on the commit of %s attempt %d, which is published: %w", ref.Key(), ref.Attempt, err)
		case !finished:
			return EndedSucceededBefore, nil
		}
		return EndedSucceeded, nil
	}
	if err := c.runs.FailCommit(ctx, ref, class, msg); err != nil {
		return 0, fmt.Errorf("give up on the commit of %s attempt %d: %w", ref.Key(), ref.Attempt, err)
	}
	return EndedFailed, nil
}
