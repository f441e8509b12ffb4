// Package compact merges an attempt's staged parts — one gzip JSON Lines
// object per batch, about 1 MiB each — into the files that are published:
// few, near the source's output.file_size, in its output.format.
//
// Files are cut at part boundaries (a block, part-<first>-<last>, is one
// part of several batches), in part order: a file takes parts
// from where the previous one ended until their staged bytes reach
// file_size (records are never split). The cut depends only on the
// parts' sizes, so every committer of the attempt — a redelivery, a
// continuation — plans the same files, and a file's key names its parts
// (data-<first>-<last>.jsonl.gz; data-<first>-<last>.<schema>.parquet,
// the schema's fingerprint in 16 hex digits): a compaction that stopped
// resumes after the last file that exists in its output. A jsonl file is
// one conditional PutObject streaming its parts (sink.Concat), a parquet
// file one multipart upload completed only when whole (sink.Upload): a
// file exists complete or not at all.
//
// A compaction that would not finish before its context's deadline (the
// invocation's) stops between two files and says so (Result.Done false):
// the caller continues it in a new invocation. Each call writes at least
// one file before it stops, so continuations are bounded by the files.
//
// jsonl files are the parts' bytes concatenated: gzip members concatenate
// into one valid gzip stream, so nothing is decompressed or recompressed,
// and memory stays at a read buffer. parquet files are written from
// the parts' records, decoded a line at a time, with the declared schema
// or one inferred from every record of the attempt first (a pass of its
// own); memory is one row group (parquetfile.DefaultRowGroupBytes) plus
// one upload chunk.
package compact

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/sink"
)

// Store reads staged parts and writes files; *sink.Sink is one.
type Store interface {
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	Upload(ctx context.Context, key, contentType string, meta map[string]string, write func(io.Writer) error) (sink.Uploaded, error)
	Concat(ctx context.Context, key, contentType string, meta map[string]string, parts []sink.Part) (sink.Uploaded, error)
	FileKey(p sink.Partition, attempt, first, last int, ext string) string
}

var _ Store = (*sink.Sink)(nil)

// DefaultReserve is the time a compaction keeps in hand before its
// deadline when it starts a file and has not timed one yet.
const DefaultReserve = 30 * time.Second

// Compactor compacts attempts.
type Compactor struct {
	store   Store
	reserve time.Duration
	now     func() time.Time
}

// New returns a Compactor over store that, after its first file, starts
// a file only while more than reserve (or twice the longest file so far)
// is left before the context's deadline, as told by now (nil: time.Now). reserve 0 means
// DefaultReserve.
func New(store Store, reserve time.Duration, now func() time.Time) *Compactor {
	if reserve <= 0 {
		reserve = DefaultReserve
	}
	if now == nil {
		now = time.Now
	}
	return &Compactor{store: store, reserve: reserve, now: now}
}

// Request is one attempt to compact.
type Request struct {
	Partition sink.Partition
	Attempt   int
	// Batches is the attempt's count of batches, n. Parts are the
	// attempt's staged objects (single parts and blocks), checked to hold
	// 0…n-1 (sink.Tile), and Files the attempt's files listed with them
	// (sink.Staged): those of an earlier try are kept.
	Batches int
	Parts   []sink.Part
	Files   []sink.File
	Output  pipeline.Output
	// Renew, if set, is called before each file but the call's first: the
	// committer renews its lease there, so that an invocation that
	// outlasts the lease keeps the input. Its error stops the compaction.
	Renew func(ctx context.Context) error
}

// Result is what a compaction produced.
type Result struct {
	// Files are the attempt's files so far, in part order; all of them
	// when Done.
	Files []sink.File
	// Done is false when the compaction stopped before its deadline with
	// files still to write: call Compact again, in a new invocation.
	Done bool
	// Written counts the files this call wrote (others existed).
	Written int
	// StagedBytes is the size of the attempt's staged parts.
	StagedBytes int64
	// Schema is the parquet files' schema as the manifest records it, and
	// Fingerprint its stable hash (empty for jsonl).
	Schema      json.RawMessage
	Fingerprint string
	// Mismatches counts the values written as NULL because they did not
	// fit their column (parquet with a record column only), and
	// FirstMismatch describes the first of them, in the files this call
	// wrote.
	Mismatches    int64
	FirstMismatch error
}

// Compact writes the files of req's attempt that do not exist yet.
func (c *Compactor) Compact(ctx context.Context, req Request) (res Result, err error) {
	// Each file takes, from where the last one ended, the fewest staged
	// objects (sink.Tile): a block where it is whole, else its single
	// parts. Every pick holds the same bytes, so only where files are cut
	// can differ between two committers (a block written between their
	// listings), as across a change of file_size: each keys its own
	// files, and _SUCCESS decides which are published.
	all, err := sink.Tile(req.Parts, 0, req.Batches)
	if err != nil {
		return Result{}, err
	}
	f, settled, err := formatOf(ctx, c.store, req, all)
	if err != nil {
		return Result{}, err
	}
	files := c.existing(req, f.ext())
	res = *settled
	res.Files = files
	for _, p := range all {
		res.StagedBytes += p.Bytes
	}
	defer func() {
		if pf, ok := f.(*parquetFile); ok {
			res.Mismatches, res.FirstMismatch = pf.mismatches, pf.first
		}
	}()
	next := 0
	if len(files) > 0 {
		next = files[len(files)-1].Last + 1
	}
	var longest time.Duration
	for next < req.Batches {
		// Every call writes one file before it may stop, however little
		// time is left: each continuation progresses, so a compaction
		// takes at most one invocation per file. One killed in that file
		// is redelivered, its receive count growing to the give-up.
		if deadline, ok := ctx.Deadline(); ok && res.Written > 0 && deadline.Sub(c.now()) < max(c.reserve, 2*longest) {
			return res, nil
		}
		if req.Renew != nil && res.Written > 0 {
			if err := req.Renew(ctx); err != nil {
				return res, err
			}
		}
		rest, err := sink.Tile(req.Parts, next, req.Batches)
		if err != nil {
			return res, err
		}
		group := cut(rest, int64(req.Output.FileSize))
		start := c.now()
		file, err := c.write(ctx, req, f, group)
		if err != nil {
			return res, err
		}
		longest = max(longest, c.now().Sub(start))
		res.Files = append(res.Files, file)
		res.Written++
		next = file.Last + 1
	}
	res.Done = true
	return res, nil
}

// existing picks the files already written in req's output — its key
// ending ext names the format and the parquet schema — that follow each
// other from part 0. Others (of another output, across a deploy that
// changed output.format or the declared columns; beside the chain, two
// committers that cut differently across a change of file_size) are left
// out: nothing publishes them, and the commit removes them after its
// publish.
func (c *Compactor) existing(req Request, ext string) []sink.File {
	var chain []sink.File
	next := 0
	for _, f := range req.Files { // by First
		if f.First == next && f.Last < req.Batches && f.Key == c.store.FileKey(req.Partition, req.Attempt, f.First, f.Last, ext) {
			chain = append(chain, f)
			next = f.Last + 1
		}
	}
	return chain
}

// cut returns the parts of the next file: from the first, until their
// staged bytes reach size.
func cut(parts []sink.Part, size int64) []sink.Part {
	var sum int64
	for i, p := range parts {
		sum += p.Bytes
		if sum >= size {
			return parts[:i+1]
		}
	}
	return parts
}

func (c *Compactor) write(ctx context.Context, req Request, f format, group []sink.Part) (sink.File, error) {
	first, last := group[0].Seq, group[len(group)-1].LastSeq()
	key := c.store.FileKey(req.Partition, req.Attempt, first, last, f.ext())
	up, records, err := f.store(ctx, c.store, key, map[string]string{"first-seq": fmt.Sprint(first), "last-seq": fmt.Sprint(last)}, group)
	if err != nil {
		return sink.File{}, fmt.Errorf("compact parts %d-%d: %w", first, last, err)
	}
	if up.Existed {
		records = 0 // another committer wrote it: its count is not ours to know
	}
	return sink.File{Key: key, First: first, Last: last, Bytes: up.Bytes, Records: records}, nil
}
