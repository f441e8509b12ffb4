package pack

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/sluice-data/sluice/shared/contracts"
)

func TestVerifyRefusesCorruptBatches(t *testing.T) {
	p := New(contracts.Run{Source: "a", Window: "2026-11-01", RunID: "r", Attempt: 1}, 1<<20)
	for _, r := range []string{`{"a":1}`, `{"a":2}`} {
		if err := p.Add([]byte(r)); err != nil {
			t.Fatal(err)
		}
	}
	body, _ := p.Flush()
	withCRC, err := contracts.DecodeBatch(body)
	if err != nil || withCRC.CRC32C == nil || Verify(withCRC) != nil {
		t.Fatalf("good batch: %v / %v / %v", err, withCRC.CRC32C, Verify(withCRC))
	}
	// As a fetcher sent it before the checksum: checked by decompressing.
	withoutCRC := withCRC
	withoutCRC.CRC32C = nil
	if err := Verify(withoutCRC); err != nil {
		t.Fatalf("good batch without its CRC-32C: %v", err)
	}
	// recrc makes the checksum fit the mutated payload, so that only the
	// other checks stand between it and the store.
	recrc := func(b *contracts.Batch) {
		b.CRC32C = contracts.NewBatch(b.Run, b.Seq, b.Count, b.RawBytes, b.Data).CRC32C
	}
	tests := []struct {
		name    string
		without bool // the batch as sent before the checksum
		mutate  func(b *contracts.Batch)
	}{
		{"payload byte flipped", false, func(b *contracts.Batch) { b.Data[len(b.Data)/2] ^= 1 }},
		{"checksum off", false, func(b *contracts.Batch) { *b.CRC32C++ }},
		{"truncated payload", false, func(b *contracts.Batch) { b.Data = b.Data[:len(b.Data)-9] }},
		{"truncated payload, checksum refitted", false, func(b *contracts.Batch) { b.Data = b.Data[:len(b.Data)-1]; recrc(b) }},
		{"count off", false, func(b *contracts.Batch) { b.Count++ }},
		{"raw bytes off", false, func(b *contracts.Batch) { b.RawBytes++ }},
		{"raw bytes off, checksum refitted", false, func(b *contracts.Batch) { b.RawBytes++; recrc(b) }},
		{"raw bytes off by 2^32, checksum refitted", false, func(b *contracts.Batch) { b.RawBytes += 1 << 32; recrc(b) }},
		{"not gzip, checksum refitted", false, func(b *contracts.Batch) { b.Data = []byte("plain text, long enough"); recrc(b) }},
		{"too short for gzip, checksum refitted", false, func(b *contracts.Batch) { b.Data = b.Data[:17]; recrc(b) }},
		{"count off", true, func(b *contracts.Batch) { b.Count = 3 }},
		{"raw bytes off", true, func(b *contracts.Batch) { b.RawBytes++ }},
		{"truncated payload", true, func(b *contracts.Batch) { b.Data = b.Data[:len(b.Data)-9] }},
		{"payload byte flipped", true, func(b *contracts.Batch) { b.Data[len(b.Data)/2] ^= 1 }},
		{"not gzip", true, func(b *contracts.Batch) { b.Data = []byte("plain text") }},
	}
	for _, tt := range tests {
		name := tt.name
		if tt.without {
			name = "without CRC-32C/" + name
		}
		t.Run(name, func(t *testing.T) {
			b := withCRC
			if tt.without {
				b = withoutCRC
			} else {
				sum := *withCRC.CRC32C
				b.CRC32C = &sum
			}
			b.Data = bytes.Clone(b.Data)
			tt.mutate(&b)
			if err := Verify(b); !errors.Is(err, ErrCorruptBatch) {
				t.Fatalf("Verify = %v, want ErrCorruptBatch", err)
			}
		})
	}
}

// A batch as fetchers sent it before Batch.CRC32C still verifies (the
// writer may receive one during a deploy), the full way.
func TestVerifyBatchWithoutCRC(t *testing.T) {
	body, err := os.ReadFile("testdata/batch-without-crc.json")
	if err != nil {
		t.Fatal(err)
	}
	b, err := contracts.DecodeBatch(body)
	if err != nil {
		t.Fatal(err)
	}
	if b.CRC32C != nil {
		t.Fatal("testdata/batch-without-crc.json carries a CRC-32C")
	}
	if err := Verify(b); err != nil {
		t.Fatal(err)
	}
	b.Count++
	if err := Verify(b); !errors.Is(err, ErrCorruptBatch) {
		t.Fatalf("count off: Verify = %v, want ErrCorruptBatch", err)
	}
}
