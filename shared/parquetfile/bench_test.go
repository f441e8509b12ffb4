package parquetfile_test

import (
	"fmt"
	"hash/fnv"
	"runtime"
	"runtime/metrics"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/shared/parquetfile"
	"github.com/sluice-data/sluice/shared/schema"
)

// The day: 1M records of ≈620 B (the demo API's orders, ≈355 B,
// with a comment of varied words), written as compaction writes them: the
// schema inferred first, then files cut when Size passes 128 MiB. Reports
// the peak live heap and the peak memory the runtime holds from the OS
// (≈ its share of RSS) while writing, the CPU time (generating the
// records included), and the files' bytes.
func BenchmarkWrite1M(b *testing.B) {
	const days, perDay = 100, 10_000 // 1M records, made a day at a time
	chunk := func(d int) [][]byte {
		recs := demoapi.Records("orders", fmt.Sprintf("2026-%02d-%02d", 1+d/28, 1+d%28), perDay)
		for i, r := range recs {
			recs[i] = withComment(r, d*perDay+i)
		}
		return recs
	}
	var raw int64
	for _, r := range chunk(0) {
		raw += int64(len(r)) + 1
	}
	b.Logf("records of %d B on average", raw/perDay)
	b.SetBytes(raw * days)

	inf := schema.NewInferrer()
	for d := range days {
		for _, r := range chunk(d) {
			if err := inf.Add(r); err != nil {
				b.Fatal(err)
			}
		}
	}
	s := inf.Schema()

	for b.Loop() {
		runtime.GC()
		peak, cpu0 := sampleMemory(), cpuTime()
		var files, bytes int64
		out := &countingWriter{}
		var w *parquetfile.Writer
		for d := range days {
			recs := chunk(d)
			for _, r := range recs {
				if w == nil {
					var err error
					if w, err = parquetfile.NewWriter(out, s, parquetfile.Options{}); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Write(r); err != nil {
					b.Fatal(err)
				}
				if w.Size() >= 128<<20 {
					if err := w.Close(); err != nil {
						b.Fatal(err)
					}
					w, files = nil, files+1
				}
			}
		}
		if w != nil {
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			files++
		}
		bytes = out.n
		cpu := cpuTime() - cpu0
		heap, held := peak()
		b.ReportMetric(cpu.Seconds(), "cpu-s")
		b.ReportMetric(float64(heap)/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(held)/(1<<20), "peak-held-MiB")
		b.ReportMetric(float64(files), "files")
		b.ReportMetric(float64(bytes)/(1<<20), "file-MiB")
	}
}

// withComment adds a comment of about 265 bytes of varied words to a
// record, making it ≈620 B.
func withComment(rec []byte, i int) []byte {
	words := []string{"parcel", "left", "at", "the", "door", "customer", "asked", "for", "gift", "wrap", "and", "a", "note", "Lieferung", "über", "Nachbarn", "配達", "予定", "rápido", "naïve", "café", "delivery", "window", "morning", "evening", "signature", "required"}
	h := fnv.New64a()
	fmt.Fprint(h, i)
	x := h.Sum64()
	out := append(rec[:len(rec)-1:len(rec)-1], `,"comment":"`...)
	for n := 0; n < 262; x = x*6364136223846793005 + 1442695040888963407 {
		w := words[(x>>33)%uint64(len(words))]
		out = append(out, w...)
		out = append(out, ' ')
		n += len(w) + 1
	}
	return append(out, `"}`...)
}

// cpuTime is the CPU time the process has used (user and system), which
// unlike the wall time does not grow with other work on the machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// sampleMemory samples the live heap and the memory the runtime holds
// (mapped, less what it released to the OS) every millisecond until the
// returned function is called, which returns both peaks.
func sampleMemory() func() (heap, held uint64) {
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
	}
	var mu sync.Mutex
	var heap, held uint64
	read := func() {
		metrics.Read(samples)
		mu.Lock()
		heap = max(heap, samples[0].Value.Uint64())
		held = max(held, samples[1].Value.Uint64()-samples[2].Value.Uint64())
		mu.Unlock()
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				read()
			}
		}
	}()
	return func() (uint64, uint64) {
		close(stop)
		<-done
		read()
		mu.Lock()
		defer mu.Unlock()
		return heap, held
	}
}

// The first pass of compaction: inferring the schema of the demo records.
func BenchmarkInfer(b *testing.B) {
	recs := demoapi.Records("orders", "2026-11-01", 20000)
	var n int64
	for _, r := range recs {
		n += int64(len(r)) + 1
	}
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		inf := schema.NewInferrer()
		for _, r := range recs {
			if err := inf.Add(r); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// Writing the demo records with their inferred schema.
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
		w, err := parquetfile.NewWriter(&countingWriter{}, s, parquetfile.Options{})
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
