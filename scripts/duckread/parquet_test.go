package duckread

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/shared/parquetfile"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/schema"
)

// demoParquetSource is the orders source of the demo API's config with
// DemoParquetOutput, parsed as the services parse it.
func demoParquetSource(t testing.TB) pipeline.Source {
	t.Helper()
	cfg := strings.Replace(demoapi.PipelineYAML("http://127.0.0.1:1", []string{"orders"}), "  - name: orders\n", "  - name: orders\n"+DemoParquetOutput, 1)
	c, err := pipeline.Parse("demo.yaml", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	return c.Sources[0]
}

// writeParquet writes records with parquetfile, as compaction does, in
// files of at most per records.
func writeParquet(t testing.TB, dir string, src pipeline.Source, records [][]byte, per int) []string {
	t.Helper()
	s, ok := schema.Declared(src.Output)
	if !ok {
		t.Fatal("DemoParquetOutput declares no columns")
	}
	var files []string
	for i := 0; i < len(records); i += per {
		path := filepath.Join(dir, "part-"+string(rune('a'+len(files)))+".parquet")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w, err := parquetfile.NewWriter(f, s, parquetfile.Options{Compression: src.Output.Compression, RowGroupBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range records[i:min(i+per, len(records))] {
			if err := w.Write(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		files = append(files, path)
	}
	return files
}

// DuckDB's answers over Parquet files written by parquetfile with
// DemoParquetOutput's columns match the records'; the record column holds
// each record as the API sent it.
func TestParquetAnswersMatchTheRecords(t *testing.T) {
	ctx := context.Background()
	recs := demoapi.Records("orders", "2026-11-01", 3000)
	src := demoParquetSource(t)
	files := writeParquet(t, t.TempDir(), src, recs, 1300)

	db, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.DemoView(ctx, "orders", pipeline.Parquet, files); err != nil {
		t.Fatal(err)
	}
	got, err := db.Query(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	want, err := Expect(recs)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range Diff(got, want) {
		t.Error(d)
	}
	// A json column: DuckDB would hand Go a decoded map; its text is what
	// was sent.
	rows, err := db.QueryContext(ctx, `SELECT id, CAST(record AS VARCHAR) FROM orders`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	sent := map[string]string{}
	for _, r := range recs {
		id, _, _ := strings.Cut(strings.TrimPrefix(string(r), `{"id":"`), `"`)
		sent[id] = string(r)
	}
	n := 0
	for rows.Next() {
		var id, record string
		if err := rows.Scan(&id, &record); err != nil {
			t.Fatal(err)
		}
		if n++; sent[id] != record {
			t.Fatalf("%s: record column %q, the API sent %q", id, record, sent[id])
		}
	}
	if err := rows.Err(); err != nil || n != len(recs) {
		t.Fatalf("%d records in the record column (%v), want %d", n, err, len(recs))
	}
}
