package parquetfile

import (
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// EachRecord calls add with every row of the Parquet file r (size bytes)
// as one JSON record, in order: the text of its column recordColumn when
// it has one (each record as the API sent it), else an object of its
// columns, each value written as JSON by the column's logical type
// (timestamps as RFC 3339, dates as yyyy-mm-dd, decimals exact). add must
// not keep the slice past its call.
func EachRecord(r io.ReaderAt, size int64, recordColumn string, add func([]byte) error) error {
	f, err := parquet.OpenFile(r, size)
	if err != nil {
		return fmt.Errorf("parquet: %w", err)
	}
	fields := f.Schema().Fields()
	record := -1
	for i, fl := range fields {
		if fl.Name() == recordColumn {
			record = i
		}
	}
	rd := parquet.NewReader(f)
	defer rd.Close()
	rows := make([]parquet.Row, 64)
	var line []byte
	for {
		n, err := rd.ReadRows(rows)
		for _, row := range rows[:n] {
			line = line[:0]
			if record >= 0 {
				for _, v := range row {
					if v.Column() == record && !v.IsNull() {
						line = append(line, v.ByteArray()...)
					}
				}
			} else {
				line = append(line, '{')
				for i, v := range row {
					if i > 0 {
						line = append(line, ',')
					}
					line = strconv.AppendQuote(line, fields[v.Column()].Name())
					line = append(line, ':')
					line = appendValue(line, v, fields[v.Column()].Type().LogicalType())
				}
				line = append(line, '}')
			}
			if len(line) > 0 {
				if err := add(line); err != nil {
					return err
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("parquet: %w", err)
		}
	}
}

// appendValue writes v as JSON by its column's logical type.
func appendValue(b []byte, v parquet.Value, lt *format.LogicalType) []byte {
	if v.IsNull() {
		return append(b, "null"...)
	}
	var logical format.LogicalTypeValue
	if lt != nil {
		logical = lt.Value
	}
	switch t := logical.(type) {
	case *format.JsonType:
		return append(b, v.ByteArray()...)
	case *format.StringType:
		return strconv.AppendQuote(b, string(v.ByteArray()))
	case *format.DateType:
		return strconv.AppendQuote(b, time.Unix(int64(v.Int32())*86400, 0).UTC().Format(time.DateOnly))
	case *format.TimestampType:
		d := t.Unit.Value.Duration()
		return strconv.AppendQuote(b, time.Unix(0, 0).Add(time.Duration(v.Int64())*d).UTC().Format(time.RFC3339Nano))
	case *format.DecimalType:
		var n *big.Int
		switch v.Kind() {
		case parquet.Int32:
			n = big.NewInt(int64(v.Int32()))
		case parquet.Int64:
			n = big.NewInt(v.Int64())
		default:
			raw := v.ByteArray()
			n = new(big.Int).SetBytes(raw)
			if len(raw) > 0 && raw[0]&0x80 != 0 {
				n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(raw))))
			}
		}
		return append(b, new(big.Rat).SetFrac(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(t.Scale)), nil)).FloatString(int(t.Scale))...)
	}
	switch v.Kind() {
	case parquet.Boolean:
		return strconv.AppendBool(b, v.Boolean())
	case parquet.Int32:
		return strconv.AppendInt(b, int64(v.Int32()), 10)
	case parquet.Int64:
		return strconv.AppendInt(b, v.Int64(), 10)
	case parquet.Float:
		return strconv.AppendFloat(b, float64(v.Float()), 'g', -1, 32)
	case parquet.Double:
		return strconv.AppendFloat(b, v.Double(), 'g', -1, 64)
	default:
		return strconv.AppendQuote(b, string(v.ByteArray()))
	}
}
