package compact

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
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
