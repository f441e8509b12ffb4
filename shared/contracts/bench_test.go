package contracts

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// BenchmarkDecodeBatch decodes a full batch message (1 MiB of JSON, its
// gzip payload in base64), as the writer does for every batch: its
// allocations should stay near the payload's decoded size, the one copy
// the Batch must own (-benchmem).
func BenchmarkDecodeBatch(b *testing.B) {
	data := make([]byte, 760<<10)
	r := rand.NewChaCha8([32]byte{})
	_, _ = r.Read(data)
	body, err := json.Marshal(NewBatch(Run{Source: "orders", Window: "2026-11-01", RunID: "20261101T000000Z-0123456789abcdef", Attempt: 1}, 3, 5000, 5<<20, data))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeBatch(body); err != nil {
			b.Fatal(err)
		}
	}
}
