package compact

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/parquetfile"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/schema"
	"github.com/sluice-data/sluice/shared/sink"
)

// parquetFile writes the parts' records as one parquet file with the
// attempt's schema. A record that does not fit a declared column fails
// the commit permanently, naming its part and line, unless the schema
// has a record column: then the value is NULL, the record column keeps
// it, and the mismatches are counted (see package parquetfile).
type parquetFile struct {
	schema schema.Schema
	opts   parquetfile.Options
	// tag names the schema in the file's key (the fingerprint's first 16
	// hex digits): a file of another schema is never taken for one of this.
	tag string
	// mismatches counts values written as NULL; first is the first.
	mismatches int64
	first      error
}

func (f *parquetFile) ext() string       { return "." + f.tag + ".parquet" }
func (*parquetFile) contentType() string { return "application/vnd.apache.parquet" }

// store writes the file in a multipart upload (sink.Upload): its size is
// known only once written.
func (f *parquetFile) store(ctx context.Context, st Store, key string, meta map[string]string, group []sink.Part) (sink.Uploaded, int64, error) {
	var records int64
	up, err := st.Upload(ctx, key, f.contentType(), meta, func(w io.Writer) error {
		n, err := f.write(ctx, w, st, group)
		records = n
		return err
	})
	return up, records, err
}

func (f *parquetFile) write(ctx context.Context, w io.Writer, parts opener, group []sink.Part) (int64, error) {
	pw, err := parquetfile.NewWriter(w, f.schema, f.opts)
	if err != nil {
		return 0, fault.Permanent(fmt.Errorf("parquet writer: %w", err))
	}
	var rows int64
	for _, p := range group {
		err := eachRecord(ctx, parts, p, func(line int, rec []byte) error {
			if err := pw.Write(rec); err != nil {
				return recordFault(fmt.Errorf("part %d line %d: %w", p.Seq, line, err))
			}
			rows++
			return nil
		})
		if err != nil {
			return rows, err
		}
	}
	if err := pw.Close(); err != nil {
		return rows, fault.Retryable(fmt.Errorf("parquet footer: %w", err))
	}
	if n, first := pw.Mismatches(); n > 0 {
		f.mismatches += n
		if f.first == nil {
			f.first = first
		}
	}
	return rows, nil
}

// recordFault classifies an error of writing one record: the record's own
// fault (a value that does not fit, JSON that is not valid) is permanent,
// no retry can help; anything else is the output's (the upload behind the
// file) and keeps its class, retryable when it has none.
func recordFault(err error) error {
	var mm *parquetfile.MismatchError
	if errors.As(err, &mm) || errors.Is(err, parquetfile.ErrInvalidJSON) {
		return fault.Permanent(err)
	}
	return err
}

// schemaOf is the output's declared schema or, when it declares no
// columns, the schema inferred from every record of the parts — a first
// pass, deterministic, so every committer of the attempt infers the same.
// A record that is not a JSON object adds no column: with a record column
// it is kept there; without one it fails the commit for good.
func schemaOf(ctx context.Context, parts opener, all []sink.Part, o pipeline.Output) (schema.Schema, error) {
	s, ok := schema.Declared(o)
	if !ok {
		inf := schema.NewInferrer()
		for _, p := range all {
			err := eachRecord(ctx, parts, p, func(line int, rec []byte) error {
				err := inf.Add(rec)
				if errors.Is(err, schema.ErrNotObject) && o.RecordColumn != "" {
					return nil // kept whole in the record column, as the writer keeps it
				}
				if err != nil {
					return fault.Permanent(fmt.Errorf("infer the schema: part %d line %d: %w", p.Seq, line, err))
				}
				return nil
			})
			if err != nil {
				return schema.Schema{}, err
			}
		}
		s = inf.Schema().WithRecordColumn(o.RecordColumn)
	}
	if err := s.Validate(); err != nil {
		return schema.Schema{}, fault.Permanent(fmt.Errorf("schema: %w", err))
	}
	return s, nil
}

// Schema is how the manifest records a parquet file's schema.
type Schema struct {
	Columns      []SchemaColumn `json:"columns"`
	RecordColumn string         `json:"record_column,omitempty"`
}

// SchemaColumn is one column of a Schema.
type SchemaColumn struct {
	Name   string              `json:"name"`
	Path   string              `json:"path"`
	Type   pipeline.ColumnType `json:"type"`
	Layout string              `json:"layout,omitempty"`
}

func manifestSchema(s schema.Schema) (json.RawMessage, error) {
	out := Schema{RecordColumn: s.RecordColumn, Columns: []SchemaColumn{}}
	for _, c := range s.Columns {
		out.Columns = append(out.Columns, SchemaColumn{Name: c.Name, Path: c.Path, Type: c.Type, Layout: c.Layout})
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fault.Permanent(fmt.Errorf("encode the schema: %w", err))
	}
	return b, nil
}
