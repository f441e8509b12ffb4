package compact

import (
	"context"
	"fmt"
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
	// write writes the parts' records to w as one file and returns how
	// many records it wrote (0: not counted).
	write(ctx context.Context, w io.Writer, parts opener, group []sink.Part) (int64, error)
}

// opener opens a staged part.
type opener interface {
	Open(ctx context.Context, key string) (io.ReadCloser, error)
}

// formatOf is the writer of req's output format. For parquet it settles
// the schema first, and returns it as the manifest records it.
func formatOf(ctx context.Context, parts opener, req Request) (format, *Result, error) {
	switch req.Output.Format {
	case pipeline.JSONL, "":
		return jsonl{}, &Result{}, nil
	case pipeline.Parquet:
		s, err := schemaOf(ctx, parts, req.Parts, req.Output)
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
// recompression.
type jsonl struct{}

func (jsonl) ext() string         { return ".jsonl.gz" }
func (jsonl) contentType() string { return "application/x-ndjson" }

func (jsonl) write(ctx context.Context, w io.Writer, parts opener, group []sink.Part) (int64, error) {
	for _, p := range group {
		if err := copyPart(ctx, w, parts, p); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

func copyPart(ctx context.Context, w io.Writer, parts opener, p sink.Part) error {
	rc, err := parts.Open(ctx, p.Key)
	if err != nil {
		return err
	}
	defer rc.Close()
	n, err := io.Copy(w, rc)
	if err != nil {
		return fault.Retryable(fmt.Errorf("copy part %d: %w", p.Seq, err))
	}
	if n != p.Bytes {
		return fault.Retryablef("copy part %d: read %d bytes, the listing says %d", p.Seq, n, p.Bytes)
	}
	return nil
}
