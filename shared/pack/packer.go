// Package pack compresses a run's records into Batch message bodies of at
// most a given size, and checks a received batch's payload against its
// header. It is the compressor of the batch format, not the format: the
// message is contracts.Batch, its payload encoding is
// contracts.EncodingGzipJSONL.
package pack

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/klauspost/compress/gzip"

	"github.com/sluice-data/sluice/shared/contracts"
)

const (
	// envelopeMax bounds the bytes a Batch message adds around its base64
	// payload, with room to spare for the attributes a consumer adds when
	// it parks the message in a DLQ (which counts them in the 1 MiB).
	envelopeMax = 4096
	// flushEvery is how much input the packer lets the compressor hold
	// before a sync flush, so that the compressed size so far is known to
	// within that much: the next Close adds at most flushEvery bytes.
	flushEvery = 32 << 10
	// gzipOverhead covers the gzip header (with its checksum field, see
	// sumExtra) and trailer and a final block.
	gzipOverhead = 64 + len(sumExtra) + 2
	// level is klauspost/compress's level 2, chosen by measurement
	// (BenchmarkCompressorLevels; README "Performance"): on the demo API's
	// records, synced every flushEvery, it compresses 2.4% smaller than
	// level 1 for about 5% more compressor CPU; level 3 is slower and no
	// smaller, level 5 smaller by 7% at 1.8 times the CPU.
	level = 2
)

// worstCase is what n bytes of input can grow to in deflate: stored
// blocks of up to 64 KiB cost 5 bytes each.
func worstCase(n int) int { return n + 5*(n/65535+1) }

var newline = []byte{'\n'}

// Packer packs raw JSON records into Batch message bodies of at most
// MaxBytes each: by bytes, never by count. Each record is written exactly
// once and never re-encoded. It is not safe for concurrent use.
type Packer struct {
	run    contracts.Run
	budget int // compressed bytes one batch may hold

	seq       int
	count     int
	raw       int64
	unflushed int // input written since the last sync flush
	buf       bytes.Buffer
	zw        *gzip.Writer
}

// New returns a Packer for run whose bodies stay under maxBytes.
func New(run contracts.Run, maxBytes int) *Packer {
	return &Packer{run: run, budget: base64.StdEncoding.DecodedLen(maxBytes - envelopeMax)}
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
			zw, err := gzip.NewWriterLevel(&p.buf, level)
			if err != nil {
				return err
			}
			p.zw = zw
		} else {
			p.zw.Reset(&p.buf)
		}
		p.zw.Extra = sumExtra[:] // Reset clears the header; Flush fills in the checksum
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

// Len is the number of records waiting in the current batch.
func (p *Packer) Len() int { return p.count }

// Batches is the number of batches flushed so far (counting those of
// earlier invocations, see ContinueAt).
func (p *Packer) Batches() int { return p.seq }

// ContinueAt makes the next batch number seq: a fetch that continues in a
// new invocation numbers its batches after those already sent.
func (p *Packer) ContinueAt(seq int) { p.seq = seq }

// noData is how encoding/json ends a Batch without Data.
var noData = []byte(`"data":null}`)

// encode returns the body encoding/json makes of b, byte for byte, in one
// allocation: the header through encoding/json (it escapes the run's
// strings), the payload base64-encoded straight into place rather than
// through json.Marshal's growing buffer.
func encode(b contracts.Batch) ([]byte, error) {
	data := b.Data
	b.Data = nil
	head, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	if !bytes.HasSuffix(head, noData) {
		return nil, fmt.Errorf("batch header %.64q does not end in its data field", head)
	}
	head = head[:len(head)-len(noData)]
	n := base64.StdEncoding.EncodedLen(len(data))
	out := make([]byte, 0, len(head)+len(`"data":""}`)+n)
	out = append(append(out, head...), `"data":"`...)
	out = out[:len(out)+n]
	base64.StdEncoding.Encode(out[len(out)-n:], data)
	return append(out, `"}`...), nil
}

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
	seal(p.count, p.raw, p.buf.Bytes())
	out, err := encode(contracts.NewBatch(p.run, p.seq, p.count, p.raw, p.buf.Bytes()))
	if err != nil {
		return nil, fmt.Errorf("encode batch %d: %w", p.seq, err)
	}
	p.seq++
	p.count = 0
	p.raw = 0
	p.unflushed = 0
	return out, nil
}
