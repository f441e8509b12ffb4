package pack

import (
	"bytes"
	"encoding/binary"
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
	if err != nil || !hasChecksum(withCRC.Data) || Verify(withCRC) != nil {
		t.Fatalf("good batch: %v / %v / %v", err, hasChecksum(withCRC.Data), Verify(withCRC))
	}
	// As a fetcher packed it before the checksum: checked by decompressing.
	withoutCRC := withCRC
	withoutCRC.Data = withoutChecksum(t, withCRC.Data)
	if err := Verify(withoutCRC); err != nil {
		t.Fatalf("good batch without its CRC-32C: %v", err)
	}
	// recrc makes the checksum fit the mutated batch, so that only the
	// other checks stand between it and the store.
	recrc := func(b *contracts.Batch) { seal(b.Count, b.RawBytes, b.Data) }
	tests := []struct {
		name    string
		without bool // the batch as packed before the checksum
		mutate  func(b *contracts.Batch)
	}{
		{"payload byte flipped", false, func(b *contracts.Batch) { b.Data[len(b.Data)/2] ^= 1 }},
		{"header byte flipped", false, func(b *contracts.Batch) { b.Data[5] ^= 1 }},
		{"checksum off", false, func(b *contracts.Batch) { b.Data[sumAt]++ }},
		{"truncated payload", false, func(b *contracts.Batch) { b.Data = b.Data[:len(b.Data)-9] }},
		{"truncated payload, checksum refitted", false, func(b *contracts.Batch) { b.Data = b.Data[:len(b.Data)-1]; recrc(b) }},
		{"count off", false, func(b *contracts.Batch) { b.Count++ }},
		{"raw bytes off", false, func(b *contracts.Batch) { b.RawBytes++ }},
		{"raw bytes off, checksum refitted", false, func(b *contracts.Batch) { b.RawBytes++; recrc(b) }},
		{"raw bytes off by 2^32, checksum refitted", false, func(b *contracts.Batch) { b.RawBytes += 1 << 32; recrc(b) }},
		{"checksum field's flag off", false, func(b *contracts.Batch) { b.Data[3] = 0 }},
		// Each of these passes the checksum and the trailer's ISIZE (the
		// last 4 bytes are raw_bytes, little-endian): only the check it is
		// named for refuses it.
		{"not gzip (first magic byte), checksum refitted", false, func(b *contracts.Batch) { b.Data[0] = 'x'; recrc(b) }},
		{"not gzip (second magic byte), checksum refitted", false, func(b *contracts.Batch) { b.Data[1] = 'x'; recrc(b) }},
		{"not deflate, checksum refitted", false, func(b *contracts.Batch) { b.Data[2] = 9; recrc(b) }},
		{"checksum field and ISIZE but no room for a trailer, checksum refitted", false, func(b *contracts.Batch) {
			b.Data = binary.LittleEndian.AppendUint32(bytes.Clone(b.Data[:sumEnd]), uint32(b.RawBytes))
			recrc(b)
		}},
		{"FNAME flag too (a reader would take the stream for a name), checksum refitted", false, func(b *contracts.Batch) { b.Data[3] |= 0x08; recrc(b) }},
		{"XLEN off (a reader would skip a stream byte), checksum refitted", false, func(b *contracts.Batch) { b.Data[10]++; recrc(b) }},
		{"3 bytes of the header", false, func(b *contracts.Batch) { b.Data = b.Data[:3] }},
		{"count off", true, func(b *contracts.Batch) { b.Count = 3 }},
		{"raw bytes off", true, func(b *contracts.Batch) { b.RawBytes++ }},
		{"truncated payload", true, func(b *contracts.Batch) { b.Data = b.Data[:len(b.Data)-9] }},
		{"payload byte flipped", true, func(b *contracts.Batch) { b.Data[len(b.Data)/2] ^= 1 }},
		{"not gzip", true, func(b *contracts.Batch) { b.Data = []byte("plain text") }},
		// The first member matches the header; what follows it would be
		// stored, and published mid-file, with it.
		{"garbage after the member", true, func(b *contracts.Batch) { b.Data = append(b.Data, "garbage"...) }},
		{"a second member after the first", true, func(b *contracts.Batch) { b.Data = append(b.Data, b.Data...) }},
		{"one byte after the member", true, func(b *contracts.Batch) { b.Data = append(b.Data, 0) }},
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
			}
			b.Data = bytes.Clone(b.Data)
			tt.mutate(&b)
			if err := Verify(b); !errors.Is(err, ErrCorruptBatch) {
				t.Fatalf("Verify = %v, want ErrCorruptBatch", err)
			}
		})
	}
}

// A batch as fetchers sent it before the checksum still verifies (the
// writer may receive one during a deploy), the full way; so does one with
// the crc32c body field that the checksum's first version sent, whose
// payload carries no checksum.
func TestVerifyBatchWithoutCRC(t *testing.T) {
	for _, file := range []string{"testdata/batch-without-crc.json", "testdata/batch-crc32c-field.json"} {
		body, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		b, err := contracts.DecodeBatch(body)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if hasChecksum(b.Data) {
			t.Fatalf("%s: the payload carries a checksum", file)
		}
		if err := Verify(b); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		b.Count++
		if err := Verify(b); !errors.Is(err, ErrCorruptBatch) {
			t.Fatalf("%s: count off: Verify = %v, want ErrCorruptBatch", file, err)
		}
	}
}

// withoutChecksum returns payload d as the packer wrote it before the
// checksum: the same member without its extra field.
func withoutChecksum(t *testing.T, d []byte) []byte {
	t.Helper()
	if !hasChecksum(d) {
		t.Fatal("the payload carries no checksum")
	}
	out := append([]byte(nil), d[:10]...)
	out[3] = 0
	return append(out, d[sumEnd:]...)
}

// VerifyByInflating does not take the checksum's word: a batch whose
// count the packer got wrong, sealed over that count, passes Verify and
// fails it.
func TestVerifyByInflatingIgnoresTheChecksum(t *testing.T) {
	p := New(goldenRun, 1<<20)
	for _, r := range goldenRecords {
		if err := p.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	body, _ := p.Flush()
	b, err := contracts.DecodeBatch(body)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyByInflating(b); err != nil {
		t.Fatalf("good batch: %v", err)
	}
	b.Count++
	seal(b.Count, b.RawBytes, b.Data)
	if err := Verify(b); err != nil {
		t.Fatalf("Verify of a batch sealed over its count = %v, want nil (it trusts the packer)", err)
	}
	if err := VerifyByInflating(b); !errors.Is(err, ErrCorruptBatch) {
		t.Fatalf("VerifyByInflating = %v, want ErrCorruptBatch", err)
	}
}
