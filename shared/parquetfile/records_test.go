package parquetfile_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/shared/parquetfile"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/schema"
)

// EachRecord gives back each record as the API sent it from the record
// column, or, without one, an object of the columns with their values
// exact.
func TestEachRecordReadsTheRecordsBack(t *testing.T) {
	records := []string{
		`{"id":9007199254740993,"amount":"12.30","name":"Zoë","at":"2026-11-01T10:00:00Z"}`,
		`{"id":2,"name":"東京"}`,
	}
	cols := []schema.Column{
		{Name: "id", Path: "id", Type: pipeline.ColumnType{Kind: pipeline.KindInt64}},
		{Name: "amount", Path: "amount", Type: pipeline.ColumnType{Kind: pipeline.KindDecimal, Precision: 12, Scale: 2}},
		{Name: "name", Path: "name", Type: pipeline.ColumnType{Kind: pipeline.KindString}},
	}
	for _, tc := range []struct {
		name, recordColumn string
		want               []string
	}{
		{"record column", "record", records},
		{"columns", "", []string{`{"id":9007199254740993,"amount":12.30,"name":"Zoë"}`, `{"id":2,"amount":null,"name":"東京"}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := schema.Schema{Columns: cols, RecordColumn: tc.recordColumn}
			file := write(t, s, parquetfile.Options{Compression: pipeline.Zstd}, records...)
			var got []string
			err := parquetfile.EachRecord(bytes.NewReader(file), int64(len(file)), tc.recordColumn, func(b []byte) error {
				got = append(got, string(b))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
