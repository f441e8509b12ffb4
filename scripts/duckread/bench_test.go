package duckread

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/shared/pipeline"
)

// The analyst's query over one day of 1M demo records (≈ 620 B each), in
// the files compaction publishes (8 of 125k records, near 128 MiB of
// JSON), JSON Lines and Parquet:
//
//	go test -run '^$' -bench Day -benchtime 3x ./scripts/duckread/
func BenchmarkDayOf1MRecords(b *testing.B) {
	const n, per = 1_000_000, 125_000
	recs := demoapi.Records("orders", "2026-11-01", n)
	dir := b.TempDir()
	var jsonl []string
	for i := 0; i < n; i += per {
		f := filepath.Join(dir, fmt.Sprintf("day-%d.jsonl.gz", i/per))
		writeJSONL(b, f, recs[i:i+per], 1000)
		jsonl = append(jsonl, f)
	}
	pq := writeParquet(b, dir, demoParquetSource(b), recs, per)
	recs = nil
	for _, tc := range []struct {
		format pipeline.Format
		files  []string
	}{{pipeline.JSONL, jsonl}, {pipeline.Parquet, pq}} {
		b.Run(string(tc.format), func(b *testing.B) {
			ctx := context.Background()
			db, err := Open()
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if err := db.DemoView(ctx, "orders", tc.format, tc.files); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				var count, ids int64
				var amount, ledger string
				if err := db.QueryRowContext(ctx, `SELECT count(*), count(DISTINCT id), CAST(sum(amount) AS VARCHAR), CAST(sum(ledger_ref) AS VARCHAR) FROM orders`).Scan(&count, &ids, &amount, &ledger); err != nil {
					b.Fatal(err)
				}
				if count != n || ids != n {
					b.Fatalf("%d records, %d ids; want %d", count, ids, n)
				}
			}
		})
	}
}
