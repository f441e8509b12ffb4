package pack

import (
	"io"
	"runtime"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

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
	// crc32c: as the writer checks a batch that carries its checksum;
	// inflate: one without it, decompressed (the only way before it).
	for _, bc := range []struct {
		name   string
		verify func(contracts.Batch) error
	}{{"crc32c", Verify}, {"inflate", inflate}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(size / 4)
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.verify(batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The compressor, chosen by measurement: each gzip level of
// klauspost/compress (and its zstd, for reference: the writer's output
// files are gzip, so zstd would need a second encoding end to end) over
// the same JSON Lines, synced every flushEvery bytes as the packer does.
// ratio is input bytes per compressed byte; cpu-MB/s is the input over
// the CPU time of the benchmark's thread, which a loaded machine disturbs
// far less than the wall-clock MB/s.
func BenchmarkCompressorLevels(b *testing.B) {
	recs, size := benchRecords(b)
	for _, tc := range []struct {
		name  string
		level int
		sync  int // input bytes between sync flushes; 0: none
	}{
		{"gzip-1", gzip.BestSpeed, flushEvery},
		{"gzip-1-nosync", gzip.BestSpeed, 0},
		{"gzip-1-sync128k", gzip.BestSpeed, 128 << 10},
		{"gzip-2", 2, flushEvery},
		{"gzip-3", 3, flushEvery},
		{"gzip-5", 5, flushEvery},
		{"gzip-huffman-only", gzip.HuffmanOnly, flushEvery},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var out countWriter
			zw, err := gzip.NewWriterLevel(&out, tc.level)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(size)
			defer reportCPU(b, size)()
			for b.Loop() {
				out = 0
				zw.Reset(&out)
				pending := 0
				for _, r := range recs {
					zw.Write(r)
					zw.Write(newline)
					if pending += len(r) + 1; tc.sync > 0 && pending >= tc.sync {
						zw.Flush()
						pending = 0
					}
				}
				zw.Close()
			}
			b.ReportMetric(float64(size)/float64(out), "ratio")
		})
	}
	for _, lvl := range []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault} {
		b.Run("zstd-"+lvl.String(), func(b *testing.B) {
			var out countWriter
			zw, err := zstd.NewWriter(&out, zstd.WithEncoderLevel(lvl), zstd.WithEncoderConcurrency(1))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(size)
			defer reportCPU(b, size)()
			for b.Loop() {
				out = 0
				zw.Reset(&out)
				for _, r := range recs {
					zw.Write(r)
					zw.Write(newline)
				}
				zw.Close()
			}
			b.ReportMetric(float64(size)/float64(out), "ratio")
		})
	}
}

// reportCPU pins the benchmark to its thread; the returned func reports
// cpu-MB/s: size bytes per iteration over the thread's CPU time.
func reportCPU(b *testing.B, size int64) func() {
	runtime.LockOSThread()
	start := threadCPU()
	return func() {
		if cpu := threadCPU() - start; cpu > 0 {
			b.ReportMetric(float64(size)*float64(b.N)/1e6/cpu.Seconds(), "cpu-MB/s")
		}
		runtime.UnlockOSThread()
	}
}

// countWriter counts the bytes written to it.
type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}
