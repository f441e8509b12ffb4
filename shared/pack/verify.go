package pack

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"

	"github.com/sluice-data/sluice/shared/contracts"
)

// maxDeflateRatio is the most deflate can expand its input: a 258-byte
// match costs at least two bits.
const maxDeflateRatio = 1032

// ErrCorruptBatch marks a batch whose payload does not match its header.
var ErrCorruptBatch = errors.New("corrupt batch")

// Verify checks b's payload against its header, so that a corrupt or
// truncated batch is refused before it is stored.
//
// A payload that carries its checksum (the extra field of its gzip header,
// see sumExtra; every fetcher since the checksum writes one) is checked
// without decompressing it: the CRC-32C of the batch's Count and RawBytes
// and of the payload, the gzip header, and the member's trailer, whose
// ISIZE (the decompressed length, mod 2^32) must be RawBytes. The payload
// and the counts are then exactly the ones the packer wrote together, and
// the packer's tests check that a batch's Count and RawBytes are its
// payload's lines and bytes — what this function used to decompress every
// payload to check, at about 400 times the CPU (BenchmarkBatchVerify).
// The check assumes one gzip member, as the packer writes: ISIZE is read
// from the payload's end, and a second member would be the last one's.
//
// A payload without the checksum (from a fetcher built before it) is
// checked the old way: it must decompress to exactly Count lines and
// RawBytes bytes, read as a stream through a small buffer. b.CRC32C, which
// fetchers sent in the body for a while, plays no part.
func Verify(b contracts.Batch) error {
	d := b.Data
	if !hasChecksum(d) {
		return inflate(b)
	}
	if sum, want := checksum(b.Count, b.RawBytes, d), binary.LittleEndian.Uint32(d[sumAt:sumEnd]); sum != want {
		return fmt.Errorf("batch %d: %w: CRC-32C of its count, length and payload is %08x, payload says %08x", b.Seq, ErrCorruptBatch, sum, want)
	}
	// ISIZE is the length mod 2^32; deflate expands at most 1032 times,
	// which bounds the length these bytes can hold.
	if b.RawBytes > int64(len(d))*maxDeflateRatio {
		return fmt.Errorf("batch %d: %w: header says %d bytes, more than %d compressed bytes can hold", b.Seq, ErrCorruptBatch, b.RawBytes, len(d))
	}
	if size := binary.LittleEndian.Uint32(d[len(d)-4:]); size != uint32(b.RawBytes) {
		return fmt.Errorf("batch %d: %w: payload's gzip trailer gives %d bytes (mod 2^32), header says %d", b.Seq, ErrCorruptBatch, size, b.RawBytes)
	}
	return nil
}

// VerifyByInflating checks b the full way, whatever its payload carries:
// it must be one gzip member that decompresses to exactly Count lines and
// RawBytes bytes. It is for tests and tools that must not take the
// packer's word (its checksum) for what it packed; the writer calls Verify.
func VerifyByInflating(b contracts.Batch) error { return inflate(b) }

// inflate checks that b's payload is one gzip member and decompresses to
// exactly Count lines and RawBytes bytes.
func inflate(b contracts.Batch) error {
	// A bytes.Reader is an io.ByteReader, which the decompressor reads
	// without buffering ahead: what it has left after the member's trailer
	// is what follows the member.
	in := bytes.NewReader(b.Data)
	zr, err := gzip.NewReader(in)
	if err != nil {
		return fmt.Errorf("batch %d: %w: %w", b.Seq, ErrCorruptBatch, err)
	}
	defer zr.Close()
	zr.Multistream(false)
	var (
		buf   [32 << 10]byte
		lines int
		raw   int64
		last  byte = '\n'
	)
	for {
		n, err := zr.Read(buf[:])
		if n > 0 {
			lines += bytes.Count(buf[:n], newline)
			raw += int64(n)
			last = buf[n-1]
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return fmt.Errorf("batch %d: %w: %w", b.Seq, ErrCorruptBatch, err)
		}
	}
	if in.Len() > 0 {
		return fmt.Errorf("batch %d: %w: %d bytes follow the payload's gzip member", b.Seq, ErrCorruptBatch, in.Len())
	}
	if lines != b.Count || raw != b.RawBytes || last != '\n' {
		return fmt.Errorf("batch %d: %w: payload holds %d lines / %d bytes, header says %d / %d", b.Seq, ErrCorruptBatch, lines, raw, b.Count, b.RawBytes)
	}
	return nil
}

// Lines decompresses b's payload and returns its records, for tests and
// tools; the pipeline itself never needs them decoded.
func Lines(b contracts.Batch) ([][]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b.Data))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	all, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	lines := bytes.SplitAfter(all, newline)
	out := make([][]byte, 0, len(lines))
	for _, l := range lines {
		if len(l) > 0 {
			out = append(out, bytes.TrimSuffix(l, newline))
		}
	}
	return out, nil
}
