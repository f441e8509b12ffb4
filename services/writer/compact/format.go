package compact

import (
	"context"
	"io"

	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/parquetfile"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/sink"
)

// format writes one file from a group of staged parts.
type format interface {
	// ext ends the file's key: it names the format and, for parquet, the
	// schema, so that only files of the same output are reused.
	ext() string
	contentType() string
	// store stores group's parts as one file at key, complete or not at
	// all and never over an existing one, and returns how many records
	// it wrote (0: not counted).
	store(ctx context.Context, st Store, key string, meta map[string]string, group []sink.Part) (sink.Uploaded, int64, error)
}

// opener opens a staged part.
type opener interface {
	Open(ctx context.Context, key string) (io.ReadCloser, error)
}

// formatOf is the writer of req's output format. For parquet it settles
// the schema first, from the records of tiles (the attempt's parts, each
// batch once), and returns it as the manifest records it.
func formatOf(ctx context.Context, parts opener, req Request, tiles []sink.Part) (format, *Result, error) {
	switch req.Output.Format {
	case pipeline.JSONL, "":
		return jsonl{}, &Result{}, nil
	case pipeline.Parquet:
		s, err := schemaOf(ctx, parts, tiles, req.Output)
		if err != nil {
			return nil, nil, err
		}
		raw, err := manifestSchema(s)
		if err != nil {
			return nil, nil, err
		}
		fp := s.Fingerprint()
		f := &parquetFile{schema: s, tag: fp[:16], opts: parquetfile.Options{Compression: req.Output.Compression, RowGroupBytes: parquetfile.DefaultRowGroupBytes}}
		return f, &Result{Schema: raw, Fingerprint: fp}, nil
	}
	return nil, nil, fault.Permanentf("compact: output format %q is not supported", req.Output.Format)
}

// jsonl concatenates the parts' gzip members: one gzip stream, no
// recompression, stored in one PutObject whose body streams the parts
// (sink.Concat).
type jsonl struct{}

func (jsonl) ext() string         { return ".jsonl.gz" }
func (jsonl) contentType() string { return "application/x-ndjson" }

func (j jsonl) store(ctx context.Context, st Store, key string, meta map[string]string, group []sink.Part) (sink.Uploaded, int64, error) {
	up, err := st.Concat(ctx, key, j.contentType(), meta, group)
	return up, 0, err
}
