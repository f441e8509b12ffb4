package commit_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/services/writer/commit"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/sink"
)

// stageAs drives a claim of window to n counted batches, staged as the
// objects named ("3": single part 3; "4-7": the block of 4…7).
func (w *compactionWorld) stageAs(window string, n int, objects ...string) (runs.Run, sink.Partition) {
	t := w.t
	r, part := w.started(window)
	for _, o := range objects {
		var first, last int
		key := ""
		if a, b, ok := strings.Cut(o, "-"); ok {
			first, last = atoi(t, a), atoi(t, b)
			key = w.sink.BlockKey(part, r.Attempt, first, last)
		} else {
			first = atoi(t, o)
			last, key = first, w.sink.PartKey(part, r.Attempt, first)
		}
		var gzs [][]byte
		for seq := first; seq <= last; seq++ {
			gzs = append(gzs, batchData(t, r.Attempt, seq, 0))
		}
		if _, err := w.sink.WriteBlock(w.ctx, key, gzs, 2*len(gzs)); err != nil {
			t.Fatal(err)
		}
	}
	for seq := range n {
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

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Against DynamoDB Local and versitygw: an attempt staged in blocks,
// single parts or both is published with every batch once, in order —
// jsonl (the files' bytes) and parquet (the files' records) — in files
// cut at the objects taken, and its clean-up removes every staged object,
// blocks and single parts.
func TestCommitTakesBlocksOrTheirSingleParts(t *testing.T) {
	w := newCompactionWorld(t)
	tests := []struct {
		name    string
		objects []string
		// files: the published files' batch ranges with files of about
		// three batches (jsonl).
		files string
	}{
		{name: "blocks and a single tail", objects: []string{"0-3", "4-7", "8"}, files: "0-3 4-7 8-8"},
		{name: "blocks over some of their single parts", objects: []string{"0", "1", "0-3", "2", "4-7", "4", "8"}, files: "0-3 4-7 8-8"},
		{name: "a block missing: its single parts", objects: []string{"0", "1", "2", "3", "4-7", "8"}, files: "0-2 3-7 8-8"},
		{name: "single parts only", objects: []string{"0", "1", "2", "3", "4", "5", "6", "7", "8"}, files: "0-2 3-5 6-8"},
	}
	for i, tt := range tests {
		for _, format := range []pipeline.Format{pipeline.JSONL, pipeline.Parquet} {
			t.Run(tt.name+"/"+string(format), func(t *testing.T) {
				w.t = t
				const n = 9
				day := 2*i + 1
				if format == pipeline.Parquet {
					day++
				}
				run, part := w.stageAs(fmt.Sprintf("2026-12-%02d", day), n, tt.objects...)
				one := int64(len(batchData(t, run.Attempt, 0, 0)))
				out := pipeline.Output{Format: format, FileSize: pipeline.ByteSize(3*one - 2), Compression: pipeline.Zstd}
				res, err := commit.New(w.store, w.sink, commit.WithOutputs(func(string) pipeline.Output { return out })).Commit(w.ctx, run, part)
				if err != nil || !res.Published || res.Staged != len(tt.objects) {
					t.Fatalf("commit = %+v, %v; want it published, its %d staged objects removed", res, err, len(tt.objects))
				}
				m, err := w.sink.ReadManifest(w.ctx, part, run.Attempt)
				if err != nil {
					t.Fatal(err)
				}
				var ranges []string
				var records int64
				for _, f := range m.Files {
					ranges = append(ranges, fmt.Sprintf("%d-%d", f.First, f.Last))
					records += f.Records
				}
				if format == pipeline.JSONL {
					if got := strings.Join(ranges, " "); got != tt.files {
						t.Errorf("files %s, want %s", got, tt.files)
					}
					w.published(part, run.Attempt, n)
				} else if records != 2*n {
					t.Errorf("the parquet files hold %d records, want %d", records, 2*n)
				}
				if left, err := w.sink.Parts(w.ctx, part, run.Attempt); err != nil || len(left) != 0 {
					t.Errorf("staged objects left after the commit: %v, %v", left, err)
				}
			})
		}
	}
}

// Against DynamoDB Local and versitygw: a commit that resumes after a
// file an earlier try cut from single parts (data-0-1), inside a block
// written since (0-3), goes on from the single parts after that file.
func TestCommitResumesInsideABlockFromItsSingleParts(t *testing.T) {
	w := newCompactionWorld(t)
	const n = 6
	run, part := w.stageAs("2026-12-20", n, "0", "1", "2", "3", "4", "5")
	parts, err := w.sink.Parts(w.ctx, part, run.Attempt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.sink.Concat(w.ctx, w.sink.FileKey(part, run.Attempt, 0, 1, ".jsonl.gz"), "application/x-ndjson", nil, parts[:2]); err != nil {
		t.Fatal(err)
	}
	var gzs [][]byte
	for seq := range 4 {
		gzs = append(gzs, batchData(t, run.Attempt, seq, 0))
	}
	if _, err := w.sink.WriteBlock(w.ctx, w.sink.BlockKey(part, run.Attempt, 0, 3), gzs, 8); err != nil {
		t.Fatal(err)
	}
	one := int64(len(gzs[0]))
	out := pipeline.Output{Format: pipeline.JSONL, FileSize: pipeline.ByteSize(2*one - 2)}
	res, err := commit.New(w.store, w.sink, commit.WithOutputs(func(string) pipeline.Output { return out })).Commit(w.ctx, run, part)
	if err != nil || !res.Published {
		t.Fatalf("commit = %+v, %v", res, err)
	}
	names, _ := w.published(part, run.Attempt, n)
	if got := strings.Join(names, " "); got != "data-000000-000001.jsonl.gz data-000002-000003.jsonl.gz data-000004-000005.jsonl.gz" {
		t.Fatalf("published %s, want the earlier try's file 0-1, then 2-3 and 4-5 from single parts", got)
	}
}
