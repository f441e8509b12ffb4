package contracts

import (
	"encoding/json"
	"strconv"
)

// batchEnvelopeMax is the number of bytes a Batch message adds around its
// records, for a run whose identifiers are at most this long; Packer uses it
// to keep each message under the queue's size limit.
const batchEnvelopeMax = 512

// Packer groups raw JSON records into Batch message bodies of at most
// MaxBytes each, by bytes and not by count, writing each record exactly
// once and never re-encoding it. It is not safe for concurrent use.
type Packer struct {
	run      Run
	maxBytes int
	seq      int
	buf      []byte
	count    int
}

// NewPacker returns a Packer for run whose bodies stay under maxBytes.
func NewPacker(run Run, maxBytes int) *Packer {
	return &Packer{run: run, maxBytes: maxBytes}
}

// MaxRecord is the largest record a Packer with this limit can carry.
func (p *Packer) MaxRecord() int { return p.maxBytes - batchEnvelopeMax }

// Fits reports whether rec can join the current batch without passing the
// limit. A record that fits no batch at all is the caller's error to report.
func (p *Packer) Fits(rec []byte) bool {
	if p.count == 0 {
		return len(rec) <= p.MaxRecord()
	}
	return len(p.buf)+1+len(rec)+batchEnvelopeMax <= p.maxBytes
}

// Add appends rec to the current batch. Call Fits first, and Flush when it
// says no.
func (p *Packer) Add(rec []byte) {
	if p.count == 0 {
		p.buf = p.buf[:0]
		p.buf = append(p.buf, '[')
	} else {
		p.buf = append(p.buf, ',')
	}
	p.buf = append(p.buf, rec...)
	p.count++
}

// Len is the number of records waiting in the current batch.
func (p *Packer) Len() int { return p.count }

// Batches is the number of batches flushed so far.
func (p *Packer) Batches() int { return p.seq }

// Flush returns the message body of the current batch (a new slice the
// caller owns) and starts the next. With no records waiting it returns nil.
func (p *Packer) Flush() []byte {
	if p.count == 0 {
		return nil
	}
	p.buf = append(p.buf, ']')
	out := make([]byte, 0, len(p.buf)+batchEnvelopeMax)
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
	out = append(out, `,"records":`...)
	out = append(out, p.buf...)
	out = append(out, '}')
	p.seq++
	p.count = 0
	return out
}

func appendString(out []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(out, q...)
}
