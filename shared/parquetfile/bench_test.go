package parquetfile_test

import (
	"io"
	"testing"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/shared/parquetfile"
)

func BenchmarkWriteDemo(b *testing.B) {
	recs := demoapi.Records("orders", "2026-11-01", 20000)
	s := infer(b, recs)
	var n int64
	for _, r := range recs {
		n += int64(len(r)) + 1
	}
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		w, err := parquetfile.NewWriter(io.Discard, s, parquetfile.Options{})
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range recs {
			if err := w.Write(r); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
