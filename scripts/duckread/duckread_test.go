package duckread

import (
	"bytes"
	"context"
	"math/big"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/shared/pipeline"
)

// writeJSONL writes records as a gzip JSON Lines file of one member per
// chunk of records, as the sink's staged parts concatenate.
func writeJSONL(t testing.TB, path string, records [][]byte, chunk int) {
	t.Helper()
	var out bytes.Buffer
	for i := 0; i < len(records); i += chunk {
		zw := gzip.NewWriter(&out)
		for _, r := range records[i:min(i+chunk, len(records))] {
			zw.Write(r)
			zw.Write([]byte{'\n'})
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// DuckDB's answers over gzip JSON Lines of concatenated members, split
// over two files, match the records'.
func TestJSONLinesAnswersMatchTheRecords(t *testing.T) {
	ctx := context.Background()
	recs := demoapi.Records("orders", "2026-11-01", 3000)
	dir := t.TempDir()
	files := []string{filepath.Join(dir, "a.jsonl.gz"), filepath.Join(dir, "b.jsonl.gz")}
	writeJSONL(t, files[0], recs[:1700], 500)
	writeJSONL(t, files[1], recs[1700:], 333)

	db, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.DemoView(ctx, "orders", pipeline.JSONL, files); err != nil {
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
	if m, _ := new(big.Int).SetString(want.LedgerMax, 10); want.Count != 3000 || m == nil || m.Cmp(big.NewInt(1<<53)) <= 0 {
		t.Fatalf("the records are not what the test is about: %d records, max ledger_ref %s", want.Count, want.LedgerMax)
	}
}

// Diff finds a wrong answer: a missing record changes every answer.
func TestDiffSeesAMissingRecord(t *testing.T) {
	recs := demoapi.Records("orders", "2026-11-01", 50)
	all, err := Expect(recs)
	if err != nil {
		t.Fatal(err)
	}
	less, err := Expect(recs[1:])
	if err != nil {
		t.Fatal(err)
	}
	if d := Diff(less, all); len(d) < 5 {
		t.Fatalf("Diff of 49 against 50 records: %v", d)
	}
	if d := Diff(all, all); len(d) != 0 {
		t.Fatalf("Diff of equal answers: %v", d)
	}
}
