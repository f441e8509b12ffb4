package parquetfile_test

import (
	"bytes"
	"fmt"

	"github.com/parquet-go/parquet-go"

	"github.com/sluice-data/sluice/shared/parquetfile"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/schema"
)

// Writing records with a declared schema, and what a value that does not
// fit its column does.
func ExampleWriter() {
	s := schema.Schema{Columns: []schema.Column{
		{Name: "id", Path: "id", Type: pipeline.ColumnType{Kind: pipeline.KindInt64}},
		{Name: "total", Path: "amount.total", Type: pipeline.ColumnType{Kind: pipeline.KindDecimal, Precision: 12, Scale: 2}},
	}}
	var file bytes.Buffer
	w, err := parquetfile.NewWriter(&file, s, parquetfile.Options{Compression: pipeline.Zstd})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, rec := range []string{
		`{"id":9007199254740993,"amount":{"total":12.345}}`,
		`{"id":"seven","amount":{"total":1}}`,
		`{"id":8}`,
	} {
		if err := w.Write([]byte(rec)); err != nil {
			fmt.Println(err)
		}
	}
	if err := w.Close(); err != nil {
		fmt.Println(err)
		return
	}
	f, _ := parquet.OpenFile(bytes.NewReader(file.Bytes()), int64(file.Len()))
	fmt.Println(f.NumRows(), "rows")
	// Output:
	// column id (path id): a string of 7 bytes does not fit: want an integer
	// 2 rows
}
