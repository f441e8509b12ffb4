package compact

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/parquetfile"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/schema"
	"github.com/sluice-data/sluice/shared/sink"
)

// partsOf serves staged parts from memory.
type partsOf map[string][]byte

func (p partsOf) Open(_ context.Context, key string) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(p[key])), nil
}

// failingOutput is an upload that breaks after n bytes.
type failingOutput struct {
	n   int
	err error
}

func (f *failingOutput) Write(b []byte) (int, error) {
	if f.n -= len(b); f.n < 0 {
		return 0, f.err
	}
	return len(b), nil
}

// Only a record that does not fit makes a parquet file fail the commit for
// good; a failure of the output the file goes to (the upload) is kept as
// it was classified, retryable unless said otherwise, so the redelivery
// tries again.
func TestParquetWriteClassifiesOnlyTheRecordsFaultsAsPermanent(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	for i := range 2000 { // notes that barely compress, so row groups flush
		fmt.Fprintf(zw, `{"id":%d,"note":"%x"}`+"\n", i, sha256.Sum256([]byte{byte(i), byte(i >> 8)}))
	}
	zw.Close()
	parts := partsOf{"p0": gz.Bytes()}
	group := []sink.Part{{Key: "p0", Seq: 0, Bytes: int64(gz.Len())}}
	s, _ := schema.Declared(pipeline.Output{Format: pipeline.Parquet, Columns: []pipeline.Column{
		{Name: "id", Path: "id", Type: pipeline.ColumnType{Kind: pipeline.KindInt64}},
		{Name: "note", Path: "note", Type: pipeline.ColumnType{Kind: pipeline.KindString}},
	}})
	f := &parquetFile{schema: s, opts: parquetfile.Options{Compression: pipeline.Zstd, RowGroupBytes: 4 << 10}}

	upload := errors.New("upload part 2: connection reset")
	_, err := f.write(context.Background(), &failingOutput{n: 8 << 10, err: upload}, parts, group)
	if !errors.Is(err, upload) || fault.IsPermanent(err) {
		t.Fatalf("write to a broken upload = %v (permanent %v), want the upload's error, retryable", err, fault.IsPermanent(err))
	}

	bad := partsOf{"p0": gzipLines(t, `{"id":1,"note":"a"}`, `{"id":"two","note":"b"}`)}
	_, err = f.write(context.Background(), io.Discard, bad, group)
	var mm *parquetfile.MismatchError
	if !errors.As(err, &mm) || !fault.IsPermanent(err) {
		t.Fatalf("write of a record that does not fit = %v, want a permanent *MismatchError", err)
	}
	_, err = f.write(context.Background(), io.Discard, partsOf{"p0": gzipLines(t, `{"id":1,`)}, group)
	if !errors.Is(err, parquetfile.ErrInvalidJSON) || !fault.IsPermanent(err) {
		t.Fatalf("write of a record that is not JSON = %v, want a permanent ErrInvalidJSON", err)
	}
}

func gzipLines(t *testing.T, lines ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	for _, l := range lines {
		io.WriteString(zw, l+"\n")
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// With an inferred schema, a record that is not a JSON object is kept in
// the record column (its other columns NULL), as the parquet writer keeps
// it; without a record column it fails the commit for good, naming its
// part and line.
func TestInferredSchemaKeepsANonObjectInTheRecordColumn(t *testing.T) {
	parts := partsOf{"p0": gzipLines(t, `{"id":1,"note":"a"}`, `[1,2]`, `{"id":3}`)}
	group := []sink.Part{{Key: "p0", Seq: 0}}
	for _, tt := range []struct {
		name, recordColumn string
		wantErr            string
	}{
		{"with a record column", "_record", ""},
		{"without one", "", "part 0 line 2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := pipeline.Output{Format: pipeline.Parquet, RecordColumn: tt.recordColumn}
			s, err := schemaOf(context.Background(), parts, group, o)
			if tt.wantErr != "" {
				if err == nil || !fault.IsPermanent(err) || !errors.Is(err, schema.ErrNotObject) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("schema = %v; want a permanent ErrNotObject naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("schema: %v", err)
			}
			if got := columnNames(s); got != "id note" || s.RecordColumn != "_record" {
				t.Fatalf("schema columns %q, record column %q; want the objects' columns and _record", got, s.RecordColumn)
			}
			var file bytes.Buffer
			f := &parquetFile{schema: s}
			if n, err := f.write(context.Background(), &file, parts, group); err != nil || n != 3 {
				t.Fatalf("write = %d, %v; want the 3 records", n, err)
			}
			var got []string
			err = parquetfile.EachRecord(bytes.NewReader(file.Bytes()), int64(file.Len()), "_record", func(rec []byte) error {
				got = append(got, string(rec))
				return nil
			})
			if want := []string{`{"id":1,"note":"a"}`, `[1,2]`, `{"id":3}`}; err != nil || !slices.Equal(got, want) {
				t.Fatalf("records read back = %q, %v; want %q", got, err, want)
			}
		})
	}
}

func columnNames(s schema.Schema) string {
	var names []string
	for _, c := range s.Columns {
		names = append(names, c.Name)
	}
	return strings.Join(names, " ")
}
