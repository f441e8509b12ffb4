package commit_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/parquet-go/parquet-go"

	"github.com/sluice-data/sluice/services/writer/commit"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/sink"
)

// typedData is batch seq: per records rows with an integer above 2^53
// and non-ASCII text.
func typedData(t *testing.T, seq, per int, extra string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	for i := range per {
		id := seq*per + i
		fmt.Fprintf(zw, "{\"id\":%d,\"big\":%d,\"name\":\"zoë-ñ-%d\"%s}\n", id, int64(1<<53)+int64(id), id, extra)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// completeTyped drives a claim of window to n parts of typedData, each
// record ending in extra.
func (w *compactionWorld) completeTyped(window string, n, per int, extra ...string) (runs.Run, sink.Partition) {
	t := w.t
	r, part := w.started(window)
	for seq := range n {
		if _, err := w.sink.WritePart(w.ctx, w.sink.PartKey(part, r.Attempt, seq), typedData(t, seq, per, strings.Join(extra, "")), per); err != nil {
			t.Fatal(err)
		}
		if _, err := w.store.BatchWritten(w.ctx, r.Ref(), seq); err != nil {
			t.Fatal(err)
		}
	}
	done, err := w.store.SetTotals(w.ctx, r.Ref(), n, int64(n*per), 0)
	if err != nil || !done.Complete() {
		t.Fatalf("totals: %+v %v", done, err)
	}
	return done, part
}

// Against DynamoDB Local and versitygw: a parquet source with no declared
// columns is published as parquet files (two parts each) with the
// schema inferred from all its records, recorded in the manifest with
// its fingerprint; the files hold every record once, integers above 2^53
// exact and non-ASCII text intact.
func TestCommitPublishesParquetWithTheInferredSchema(t *testing.T) {
	w := newCompactionWorld(t)
	const n, per = 4, 50
	run, part := w.completeTyped("2026-11-04", n, per)
	out := w.twoPartFiles(part, run.Attempt)
	out.Format, out.Compression = pipeline.Parquet, pipeline.Zstd
	res, err := commit.New(w.store, w.sink, commit.WithOutputs(func(string) pipeline.Output { return out })).Commit(w.ctx, run, part)
	if err != nil || !res.Published || res.Objects != n/2 || res.Schema == "" {
		t.Fatalf("commit = %+v, %v; want %d parquet files and a schema", res, err, n/2)
	}
	m, err := w.sink.ReadManifest(w.ctx, part, run.Attempt)
	if err != nil || m.Format != "parquet" || m.SchemaFingerprint != res.Schema || !bytes.Contains(m.Schema, []byte(`"name":"big","path":"big","type":"int64"`)) {
		t.Fatalf("manifest = %+v (schema %s), %v", m, m.Schema, err)
	}
	ptr, err := w.sink.Current(w.ctx, part)
	if err != nil || len(ptr.URIs) != n/2 {
		t.Fatalf("pointer = %+v, %v", ptr, err)
	}
	seen := 0
	for i, uri := range ptr.URIs {
		key, _ := w.sink.KeyOf(uri)
		if key != w.sink.FileKey(part, run.Attempt, 2*i, 2*i+1, "."+m.SchemaFingerprint[:16]+".parquet") || m.Files[i].Records != 2*per {
			t.Fatalf("file %d = %s with %d records, want parts %d-%d with %d", i, key, m.Files[i].Records, 2*i, 2*i+1, 2*per)
		}
		rc, err := w.sink.Open(w.ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatalf("%s is not a parquet file: %v", key, err)
		}
		if cols := f.Schema().Columns(); len(cols) != 3 || cols[0][0] != "id" || cols[1][0] != "big" || cols[2][0] != "name" {
			t.Fatalf("%s has columns %v, want id, big, name", key, cols)
		}
		r := parquet.NewReader(f)
		rows := make([]parquet.Row, 1)
		for {
			k, err := r.ReadRows(rows)
			if k == 1 {
				row := rows[0]
				id := int64(seen)
				if row[0].Int64() != id || row[1].Int64() != int64(1<<53)+id || string(row[2].ByteArray()) != fmt.Sprintf("zoë-ñ-%d", id) {
					t.Fatalf("row %d = %v", seen, row)
				}
				seen++
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		r.Close()
	}
	if seen != n*per {
		t.Fatalf("the files hold %d rows, want %d", seen, n*per)
	}
}

// Against DynamoDB Local and versitygw: a record that does not fit a
// declared column (no record column) fails the commit permanently, naming
// the part and line of the record; nothing is published.
func TestCommitFailsOnARecordThatDoesNotFitItsDeclaredColumn(t *testing.T) {
	w := newCompactionWorld(t)
	run, part := w.completeTyped("2026-11-05", 2, 3)
	out := pipeline.Output{Format: pipeline.Parquet, FileSize: pipeline.DefaultFileSize, Compression: pipeline.Zstd,
		Columns: []pipeline.Column{{Name: "id", Type: pipeline.ColumnType{Kind: pipeline.KindInt64}}, {Name: "name", Type: pipeline.ColumnType{Kind: pipeline.KindBool}}}}
	_, err := commit.New(w.store, w.sink, commit.WithOutputs(func(string) pipeline.Output { return out })).Commit(w.ctx, run, part)
	if !fault.IsPermanent(err) || !bytes.Contains([]byte(err.Error()), []byte("part 0 line 1")) {
		t.Fatalf("commit = %v, want a permanent error naming part 0 line 1", err)
	}
	if _, err := w.sink.Current(w.ctx, part); !errors.Is(err, sink.ErrNoPointer) {
		t.Fatalf("published after the mismatch: %v", err)
	}
	if got := w.uploads(part, run.Attempt); got != 0 {
		t.Fatalf("%d uploads left in progress, want the failed one aborted", got)
	}
}

// Against DynamoDB Local and versitygw: the first parquet commit of a
// source records its schema; a later window whose records have a new
// field is published with a wider schema, and its commit says what the
// schema changed from, on the run and its history (what `sluicectl runs
// <input>` shows); a window with the same schema again records no change.
func TestASchemaChangeBetweenRunsOfASourceIsRecorded(t *testing.T) {
	w := newCompactionWorld(t)
	out := pipeline.Output{Format: pipeline.Parquet, FileSize: pipeline.DefaultFileSize, Compression: pipeline.Zstd}
	c := commit.New(w.store, w.sink, commit.WithOutputs(func(string) pipeline.Output { return out }))
	commitWindow := func(window string, extra ...string) (commit.Result, runs.Run) {
		t.Helper()
		run, part := w.completeTyped(window, 1, 3, extra...)
		res, err := c.Commit(w.ctx, run, part)
		if err != nil || !res.Published {
			t.Fatalf("commit of %s = %+v, %v", window, res, err)
		}
		r, err := w.store.Get(w.ctx, run.Input)
		if err != nil {
			t.Fatal(err)
		}
		return res, r
	}
	first, r1 := commitWindow("2026-11-06")
	if first.SchemaChange != "" || r1.Schema != first.Schema || r1.SchemaChange != "" {
		t.Fatalf("first commit = %+v, run schema %q change %q; want its schema and no change", first, r1.Schema, r1.SchemaChange)
	}
	second, r2 := commitWindow("2026-11-07", `,"note":"new"`)
	want := first.Schema + " (orders/2026-11-06 attempt 1)"
	if second.Schema == first.Schema || second.SchemaChange != want || r2.Schema != second.Schema || r2.SchemaChange != want {
		t.Fatalf("second commit = %+v, run schema %q change %q; want a new schema changed from %s", second, r2.Schema, r2.SchemaChange, want)
	}
	h, err := w.store.History(w.ctx, r2.Input)
	if err != nil || len(h) != 1 || h[0].SchemaChange != want {
		t.Fatalf("history = %+v, %v; want the change in attempt 1", h, err)
	}
	third, r3 := commitWindow("2026-11-08", `,"note":"again"`)
	if third.Schema != second.Schema || third.SchemaChange != "" || r3.SchemaChange != "" {
		t.Fatalf("third commit = %+v, run change %q; want the second's schema, no change", third, r3.SchemaChange)
	}
}
