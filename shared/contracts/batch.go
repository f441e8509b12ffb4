package contracts

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/klauspost/compress/gzip"
)

// EncodingGzipJSONL is the only Batch payload encoding: the records as JSON
// Lines (one raw record per line, each line ending in "\n"), compressed as
// one gzip member, carried base64-encoded in the message body.
//
// Compressing in the fetcher puts 4–8 times more records in each 1 MiB
// message, lets the writer store the bytes as they are (the object in S3 is
// this gzip stream), and base64 keeps any byte an API sends — including
// characters SQS refuses in a message body — out of SQS's way.
const EncodingGzipJSONL = "gzip-jsonl"

const (
	// batchEnvelopeMax bounds the bytes a Batch message adds around its
	// base64 payload, with room to spare for the attributes a consumer adds
	// when it parks the message in a DLQ (which counts them in the 1 MiB).
	batchEnvelopeMax = 4096
	// flushEvery is how much input the packer lets the compressor hold
	// before a sync flush, so that the compressed size so far is known to
	// within that much: the next Close adds at most flushEvery bytes.
	flushEvery = 32 << 10
	// gzipOverhead covers the gzip header and trailer and a final block.
	gzipOverhead = 64
)

// worstCase is what n bytes of input can grow to in deflate: stored
// blocks of up to 64 KiB cost 5 bytes each.
func worstCase(n int) int { return n + 5*(n/65535+1) }

// Packer packs raw JSON records into Batch message bodies of at most
// MaxBytes each: by bytes, never by count. Each record is written exactly
// once and never re-encoded. It is not safe for concurrent use.
type Packer struct {
	run    Run
	budget int // compressed bytes one batch may hold
	level  int

	seq       int
	count     int
	raw       int64
	unflushed int // input written since the last sync flush
	buf       bytes.Buffer
	zw        *gzip.Writer
}

// NewPacker returns a Packer for run whose bodies stay under maxBytes.
func NewPacker(run Run, maxBytes int) *Packer {
	budget := base64.StdEncoding.DecodedLen(maxBytes - batchEnvelopeMax)
	return &Packer{run: run, budget: budget, level: gzip.BestSpeed}
}

// MaxRecord is the largest record (in bytes, as sent by the API) that a
// batch is sure to carry, however badly it compresses.
func (p *Packer) MaxRecord() int {
	n := p.budget - gzipOverhead
	return n - 5*(n/65535+1) - 1
}

// Fits reports whether rec can join the current batch with no risk of
// passing the limit, even if it does not compress at all. A record longer
// than MaxRecord never fits; the caller reports it.
func (p *Packer) Fits(rec []byte) bool {
	if len(rec) > p.MaxRecord() {
		return false
	}
	if p.count == 0 {
		return true
	}
	return p.buf.Len()+worstCase(p.unflushed+len(rec)+1)+gzipOverhead <= p.budget
}

// Add appends rec and a newline to the current batch. Call Fits first, and
// Flush when it says no.
func (p *Packer) Add(rec []byte) error {
	if p.count == 0 {
		p.buf.Reset()
		if p.zw == nil {
			zw, err := gzip.NewWriterLevel(&p.buf, p.level)
			if err != nil {
				return err
			}
			p.zw = zw
		} else {
			p.zw.Reset(&p.buf)
		}
	}
	if _, err := p.zw.Write(rec); err != nil {
		return fmt.Errorf("compress record: %w", err)
	}
	if _, err := p.zw.Write(newline); err != nil {
		return fmt.Errorf("compress record: %w", err)
	}
	p.count++
	p.raw += int64(len(rec)) + 1
	p.unflushed += len(rec) + 1
	if p.unflushed >= flushEvery {
		if err := p.zw.Flush(); err != nil {
			return fmt.Errorf("compress record: %w", err)
		}
		p.unflushed = 0
	}
	return nil
}

var newline = []byte{'\n'}

// Len is the number of records waiting in the current batch.
func (p *Packer) Len() int { return p.count }

// Batches is the number of batches flushed so far (counting those of
// earlier invocations, see ContinueAt).
func (p *Packer) Batches() int { return p.seq }

// ContinueAt makes the next batch number seq: a fetch that continues in a
// new invocation numbers its batches after those already sent.
func (p *Packer) ContinueAt(seq int) { p.seq = seq }

// Flush returns the message body of the current batch (a new slice the
// caller owns) and starts the next. With no records waiting it returns nil.
func (p *Packer) Flush() ([]byte, error) {
	if p.count == 0 {
		return nil, nil
	}
	if err := p.zw.Close(); err != nil {
		return nil, fmt.Errorf("compress batch: %w", err)
	}
	if p.buf.Len() > p.budget { // cannot happen while callers respect Fits
		return nil, fmt.Errorf("batch %d compressed to %d bytes, over its budget of %d", p.seq, p.buf.Len(), p.budget)
	}
	out := make([]byte, 0, base64.StdEncoding.EncodedLen(p.buf.Len())+batchEnvelopeMax)
	out = append(out, `{"v":`...)
	out = strconv.AppendInt(out, Version, 10)
	out = append(out, `,"kind":"batch","source":`...)
	out = appendString(out, p.run.Source)
	out = append(out, `,"window":`...)
	out = appendString(out, p.run.Window)
	out = append(out, `,"run_id":`...)
	out = appendString(out, p.run.RunID)
	out = append(out, `,"attempt":`...)
	out = strconv.AppendInt(out, int64(p.run.Attempt), 10)
	out = append(out, `,"seq":`...)
	out = strconv.AppendInt(out, int64(p.seq), 10)
	out = append(out, `,"count":`...)
	out = strconv.AppendInt(out, int64(p.count), 10)
	out = append(out, `,"raw_bytes":`...)
	out = strconv.AppendInt(out, p.raw, 10)
	out = append(out, `,"encoding":"`+EncodingGzipJSONL+`","data":"`...)
	out = base64.StdEncoding.AppendEncode(out, p.buf.Bytes())
	out = append(out, `"}`...)
	p.seq++
	p.count = 0
	p.raw = 0
	p.unflushed = 0
	return out, nil
}

func appendString(out []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(out, q...)
}

// ErrCorruptBatch marks a batch whose payload does not match its header.
var ErrCorruptBatch = errors.New("corrupt batch")

// Verify checks that the payload decompresses to exactly Count lines and
// RawBytes bytes, so that a corrupt or truncated batch is refused before it
// is stored. It reads the payload as a stream, holding no more than a
// small buffer.
func (b Batch) Verify() error {
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

// Lines decompresses the payload and returns its records, for tests and
// tools; the pipeline itself never needs them decoded.
func (b Batch) Lines() ([][]byte, error) {
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
