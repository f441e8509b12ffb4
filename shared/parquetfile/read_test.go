package parquetfile_test

import (
	"bytes"
	"errors"
	"io"
	"math/big"
	"strconv"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/sluice-data/sluice/shared/parquetfile"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/schema"
)

// write writes records to a parquet file with s and returns it.
func write(t testing.TB, s schema.Schema, o parquetfile.Options, records ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := parquetfile.NewWriter(&buf, s, o)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range records {
		if err := w.Write([]byte(r)); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readBack reads a file with parquet-go's reader: every row, each value
// as text (NULL for a null) by the column's type in s.
func readBack(t testing.TB, file []byte, s schema.Schema) [][]string {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	types := make([]pipeline.ColumnType, 0, len(s.Columns)+1)
	for _, c := range s.Columns {
		types = append(types, c.Type)
	}
	if s.RecordColumn != "" {
		types = append(types, pipeline.ColumnType{Kind: pipeline.KindJSON})
	}
	if got, want := len(f.Schema().Columns()), len(types); got != want {
		t.Fatalf("file has %d columns, want %d", got, want)
	}
	r := parquet.NewReader(f)
	defer r.Close()
	var out [][]string
	rows := make([]parquet.Row, 64)
	for {
		n, err := r.ReadRows(rows)
		for _, row := range rows[:n] {
			vals := make([]string, len(types))
			for _, v := range row {
				vals[v.Column()] = text(v, types[v.Column()])
			}
			out = append(out, vals)
		}
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
	}
}

func text(v parquet.Value, t pipeline.ColumnType) string {
	if v.IsNull() {
		return "NULL"
	}
	switch t.Kind {
	case pipeline.KindInt64:
		return strconv.FormatInt(v.Int64(), 10)
	case pipeline.KindFloat64:
		return strconv.FormatFloat(v.Double(), 'g', -1, 64)
	case pipeline.KindBool:
		return strconv.FormatBool(v.Boolean())
	case pipeline.KindTimestamp:
		return time.UnixMicro(v.Int64()).UTC().Format(time.RFC3339Nano)
	case pipeline.KindDate:
		return time.Unix(int64(v.Int32())*86400, 0).UTC().Format(time.DateOnly)
	case pipeline.KindDecimal:
		var n *big.Int
		switch v.Kind() {
		case parquet.Int32:
			n = big.NewInt(int64(v.Int32()))
		case parquet.Int64:
			n = big.NewInt(v.Int64())
		default:
			b := v.ByteArray()
			n = new(big.Int).SetBytes(b)
			if len(b) > 0 && b[0]&0x80 != 0 {
				n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
			}
		}
		return new(big.Rat).SetFrac(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(t.Scale)), nil)).FloatString(t.Scale)
	default:
		return string(v.ByteArray())
	}
}
