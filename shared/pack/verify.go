package pack

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"

	"github.com/sluice-data/sluice/shared/contracts"
)

// ErrCorruptBatch marks a batch whose payload does not match its header.
var ErrCorruptBatch = errors.New("corrupt batch")

// Verify checks that b's payload decompresses to exactly Count lines and
// RawBytes bytes, so that a corrupt or truncated batch is refused before it
// is stored. It reads the payload as a stream, holding no more than a
// small buffer.
func Verify(b contracts.Batch) error {
	zr, err := gzip.NewReader(bytes.NewReader(b.Data))
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
