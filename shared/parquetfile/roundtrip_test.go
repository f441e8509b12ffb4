package parquetfile_test

import (
	"bytes"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/sluice-data/sluice/shared/parquetfile"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/schema"
)

func TestSmoke(t *testing.T) {
	inf := schema.NewInferrer()
	recs := []string{`{"id":1,"name":"é","at":"2024-01-02T03:04:05Z","big":9007199254740993,"n":{"a":1}}`, `{"id":2,"x":1.5}`}
	for _, r := range recs {
		if err := inf.Add([]byte(r)); err != nil {
			t.Fatal(err)
		}
	}
	s := inf.Schema().WithRecordColumn("record")
	t.Log(s.YAML())
	var buf bytes.Buffer
	w, err := parquetfile.NewWriter(&buf, s, parquetfile.Options{Compression: pipeline.Zstd})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Write([]byte(r)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	t.Log(f.Schema())
	rows := make([]parquet.Row, 10)
	rr := parquet.NewReader(f)
	n, _ := rr.ReadRows(rows)
	for _, r := range rows[:n] {
		t.Log(r)
	}
}
