package pack

import (
	"io"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/shared/contracts"
)

// The packer against its floor: plain gzip level 1 of the same JSON Lines
// (what `gzip -1` does to the API's bytes). Compare the two MB/s figures of
// one `make bench` run; the packer adds base64 and the envelope on top.
func benchRecords(b *testing.B) ([][]byte, int64) {
	b.Helper()
	recs := demoapi.Records("orders", "2026-11-01", 20000)
	var n int64
	for _, r := range recs {
		n += int64(len(r)) + 1
	}
	return recs, n
}

func BenchmarkPackerGzipJSONL(b *testing.B) {
	recs, size := benchRecords(b)
	run := contracts.Run{Source: "orders", Window: "2026-11-01", RunID: "r", Attempt: 1}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		p := New(run, 1<<20)
		for _, r := range recs {
			if !p.Fits(r) {
				if _, err := p.Flush(); err != nil {
					b.Fatal(err)
				}
			}
			if err := p.Add(r); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := p.Flush(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBaselinePlainGzip1(b *testing.B) {
	recs, size := benchRecords(b)
	b.SetBytes(size)
	b.ReportAllocs()
	zw, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	for b.Loop() {
		zw.Reset(io.Discard)
		for _, r := range recs {
			zw.Write(r)
			zw.Write(newline)
		}
		zw.Close()
	}
}

func BenchmarkBatchVerify(b *testing.B) {
	recs, size := benchRecords(b)
	p := New(contracts.Run{Source: "orders", Window: "2026-11-01", RunID: "r", Attempt: 1}, 1<<20)
	for _, r := range recs[:5000] {
		if err := p.Add(r); err != nil {
			b.Fatal(err)
		}
	}
	body, _ := p.Flush()
	batch, err := contracts.DecodeBatch(body)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size / 4)
	b.ReportAllocs()
	for b.Loop() {
		if err := Verify(batch); err != nil {
			b.Fatal(err)
		}
	}
}
