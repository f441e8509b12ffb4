package parquetfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/tidwall/gjson"

	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/schema"
)

// DefaultRowGroupBytes is the row group size when Options leaves it 0:
// large enough for readers to skip and split well (four row groups in a
// 128 MiB file), small enough that a writer's memory stays well inside a
// 256 MiB function (writing 1M records of ≈620 B peaks at ≈93 MiB of
// heap: BenchmarkWrite1M).
const DefaultRowGroupBytes = 32 << 20

// Options of a Writer.
type Options struct {
	// Compression codec: pipeline.Zstd (the default when empty) or
	// pipeline.Snappy.
	Compression pipeline.Compression
	// RowGroupBytes is the size at which the buffered row group is flushed
	// to the output (default DefaultRowGroupBytes). The writer's memory is
	// about this much, plus a page buffer per column.
	RowGroupBytes int64
}

// PageBufferBytes is the most a column buffers, not yet encoded, before
// its values are encoded and compressed into a page (parquet-go's default
// is 256 KiB; smaller keeps wide schemas' memory down and Size close).
const PageBufferBytes = 64 << 10

// FingerprintKey is the file metadata key holding the schema's
// Fingerprint.
const FingerprintKey = "sluice.schema.fingerprint"

// Writer writes one parquet file. Not safe for concurrent use.
type Writer struct {
	pw            *parquet.Writer
	cols          []column
	byKey         map[string]int // top-level key → column, for the columns whose path is a plain key
	byPath        []int          // the other columns, read with gjson
	record        int            // the record column's index, or -1
	rows          []parquet.Row  // rows converted, not yet handed to pw: rows[:pending]
	pending       int
	pendingBytes  int64       // the records' bytes of the pending rows
	row           parquet.Row // the row being converted: rows[pending]
	set           []bool
	rowGroupBytes int64
	flushedAt     int64 // pw.Size() after the last row group flush

	mismatches    int64
	firstMismatch *MismatchError
	closed        bool
}

type column struct {
	name, path string
	convert    convert
}

// NewWriter returns a Writer of a parquet file with the columns of s to w.
// Nothing is written to w before the first row group is flushed or the
// Writer is closed.
func NewWriter(w io.Writer, s schema.Schema, o Options) (*Writer, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("parquet schema: %w", err)
	}
	codec, err := codecOf(o.Compression)
	if err != nil {
		return nil, err
	}
	if o.RowGroupBytes <= 0 {
		o.RowGroupBytes = DefaultRowGroupBytes
	}
	cfg, err := parquet.NewWriterConfig(parquetSchema(s), parquet.Compression(codec), parquet.PageBufferSize(PageBufferBytes))
	if err != nil {
		return nil, fmt.Errorf("parquet writer: %w", err)
	}
	pw := &Writer{
		pw:            parquet.NewWriter(w, cfg),
		byKey:         map[string]int{},
		record:        -1,
		rowGroupBytes: o.RowGroupBytes,
	}
	for i, c := range s.Columns {
		pw.cols = append(pw.cols, column{name: c.Name, path: c.Path, convert: converter(c)})
		if key, ok := schema.TopLevelKey(c.Path); ok {
			if _, dup := pw.byKey[key]; !dup {
				pw.byKey[key] = i
				continue
			}
		}
		pw.byPath = append(pw.byPath, i)
	}
	if s.RecordColumn != "" {
		pw.record = len(pw.cols)
		pw.cols = append(pw.cols, column{name: s.RecordColumn, path: "@this", convert: toJSON})
	}
	pw.rows = make([]parquet.Row, batchRows)
	for i := range pw.rows {
		pw.rows[i] = make(parquet.Row, len(pw.cols))
	}
	pw.set = make([]bool, len(pw.cols))
	pw.pw.SetKeyValueMetadata(FingerprintKey, s.Fingerprint())
	return pw, nil
}

func codecOf(c pipeline.Compression) (compress.Codec, error) {
	switch c {
	case pipeline.Zstd, "":
		return &zstd.Codec{Level: zstd.DefaultLevel}, nil
	case pipeline.Snappy:
		return &snappy.Codec{}, nil
	}
	return nil, fmt.Errorf("unknown parquet compression %q (want zstd, snappy)", c)
}

var errClosed = errors.New("parquet writer closed")

// ErrInvalidJSON is Write's error for a record that is not valid JSON.
var ErrInvalidJSON = errors.New("record is not valid JSON")

// Write writes one record, a JSON object as one line of a staged part. A
// value that does not fit its column is a *MismatchError and the record
// is not written, unless the schema has a record column (see the package
// doc); a record that is not valid JSON is ErrInvalidJSON, and is not
// written. Those two are the record's fault. Any other error is the
// output's (or parquet-go's), from writing earlier rows, and leaves the
// file unusable. Write keeps no reference to record.
func (w *Writer) Write(record []byte) error {
	if w.closed {
		return errClosed
	}
	if !gjson.ValidBytes(record) {
		return ErrInvalidJSON
	}
	r := gjson.ParseBytes(record)
	clear(w.set)
	w.row = w.rows[w.pending]
	if len(w.byKey) > 0 && r.IsObject() {
		var err *MismatchError
		r.ForEach(func(k, v gjson.Result) bool {
			i, ok := w.byKey[k.Str]
			if !ok || w.set[i] { // the first of duplicate keys, as gjson.Get reads it
				return true
			}
			err = w.put(i, v)
			return err == nil
		})
		if err != nil {
			return err
		}
	}
	for _, i := range w.byPath {
		if err := w.put(i, r.Get(w.cols[i].path)); err != nil {
			return err
		}
	}
	if w.record >= 0 {
		w.set[w.record] = true
		w.row[w.record] = parquet.ByteArrayValue(bytes.Clone(record)).Level(0, 1, w.record)
	}
	for i, ok := range w.set {
		if !ok {
			w.row[i] = parquet.Value{}.Level(0, 0, i)
		}
	}
	w.pending++
	w.pendingBytes += int64(len(record))
	if w.pending < len(w.rows) {
		return nil
	}
	return w.writePending()
}

// batchRows is how many rows Write converts before handing them to
// parquet-go at once, which costs less than one at a time.
const batchRows = 64

// writePending hands the pending rows to parquet-go and flushes the row
// group when it holds RowGroupBytes.
func (w *Writer) writePending() error {
	if w.pending == 0 {
		return nil
	}
	n := w.pending
	w.pending, w.pendingBytes = 0, 0
	if _, err := w.pw.WriteRows(w.rows[:n]); err != nil {
		return fmt.Errorf("parquet write: %w", err)
	}
	if size := w.pw.Size(); size-w.flushedAt >= w.rowGroupBytes {
		if err := w.pw.Flush(); err != nil {
			return fmt.Errorf("parquet flush: %w", err)
		}
		w.flushedAt = w.pw.Size()
	}
	return nil
}

// put sets column i of the row from v; a mismatch is returned, or, with a
// record column, counted and the value left NULL.
func (w *Writer) put(i int, v gjson.Result) *MismatchError {
	w.set[i] = true
	if !v.Exists() || v.Type == gjson.Null {
		w.row[i] = parquet.Value{}.Level(0, 0, i)
		return nil
	}
	val, why := w.cols[i].convert(v)
	if why == "" {
		w.row[i] = val.Level(0, 1, i)
		return nil
	}
	m := mismatch(w.cols[i], v, why)
	if w.record < 0 {
		return m
	}
	w.mismatches++
	if w.firstMismatch == nil {
		w.firstMismatch = m
	}
	w.row[i] = parquet.Value{}.Level(0, 0, i)
	return nil
}

// Mismatches returns how many values did not fit their column and were
// written as NULL (only with a record column), and the first of them.
func (w *Writer) Mismatches() (int64, *MismatchError) {
	return w.mismatches, w.firstMismatch
}

// Size is the bytes written to the output so far plus the buffered row
// group: its encoded pages as they will be written, the values not yet
// encoded at their uncompressed size (at most PageBufferBytes a column),
// and the last rows not yet handed to parquet-go at their records' size
// (fewer than 64). So the file closed now would be at most that much
// smaller, plus its footer.
func (w *Writer) Size() int64 { return w.pw.Size() + w.pendingBytes }

// Close flushes the buffered rows and writes the footer. It does not close
// the output. A second Close does nothing.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	if err := w.writePending(); err != nil {
		return err
	}
	if err := w.pw.Close(); err != nil {
		return fmt.Errorf("parquet close: %w", err)
	}
	return nil
}
