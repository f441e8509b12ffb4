package parquetfile

import (
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/tidwall/gjson"

	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/schema"
)

// convert turns a present, non-null JSON value into a parquet value of one
// column, or says why it does not fit.
type convert func(v gjson.Result) (parquet.Value, string)

// converter returns the conversion of a column's type.
func converter(c schema.Column) convert {
	switch c.Type.Kind {
	case pipeline.KindInt64:
		return toInt64
	case pipeline.KindFloat64:
		return toFloat64
	case pipeline.KindBool:
		return toBool
	case pipeline.KindTimestamp:
		return toTimestamp(c.Layout)
	case pipeline.KindDate:
		return toDate
	case pipeline.KindDecimal:
		return toDecimal(c.Type.Precision, c.Type.Scale)
	case pipeline.KindJSON:
		return toJSON
	default:
		return toString
	}
}

func toString(v gjson.Result) (parquet.Value, string) {
	switch v.Type {
	case gjson.String:
		return parquet.ByteArrayValue([]byte(v.Str)), ""
	case gjson.Number, gjson.True, gjson.False:
		return parquet.ByteArrayValue([]byte(v.Raw)), ""
	}
	return parquet.Value{}, "want a string, got an " + nestedKind(v) + " (declare the column json)"
}

func toJSON(v gjson.Result) (parquet.Value, string) {
	return parquet.ByteArrayValue([]byte(v.Raw)), ""
}

func toBool(v gjson.Result) (parquet.Value, string) {
	switch {
	case v.Type == gjson.True, v.Type == gjson.String && v.Str == "true":
		return parquet.BooleanValue(true), ""
	case v.Type == gjson.False, v.Type == gjson.String && v.Str == "false":
		return parquet.BooleanValue(false), ""
	}
	return parquet.Value{}, "want true or false"
}

func toInt64(v gjson.Result) (parquet.Value, string) {
	lit, ok := numberText(v)
	if !ok {
		return parquet.Value{}, "want an integer"
	}
	if n, err := strconv.ParseInt(lit, 10, 64); err == nil {
		return parquet.Int64Value(n), ""
	}
	r, why := exactNumber(lit)
	switch {
	case r == nil:
		return parquet.Value{}, why
	case !r.IsInt():
		return parquet.Value{}, "want an integer, got a fraction"
	case !r.Num().IsInt64():
		return parquet.Value{}, "beyond the int64 range (declare decimal(38,0))"
	}
	return parquet.Int64Value(r.Num().Int64()), ""
}

func toFloat64(v gjson.Result) (parquet.Value, string) {
	lit, ok := numberText(v)
	if !ok {
		return parquet.Value{}, "want a number"
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil || math.IsInf(f, 0) {
		return parquet.Value{}, "beyond the float64 range"
	}
	return parquet.DoubleValue(f), ""
}

func toDate(v gjson.Result) (parquet.Value, string) {
	if v.Type != gjson.String || len(v.Str) != len(time.DateOnly) {
		return parquet.Value{}, "want a date YYYY-MM-DD"
	}
	t, err := time.Parse(time.DateOnly, v.Str)
	if err != nil {
		return parquet.Value{}, "want a date YYYY-MM-DD"
	}
	return parquet.Int32Value(int32(t.Unix() / 86400)), ""
}

func toTimestamp(layout string) convert {
	switch layout {
	case pipeline.LayoutUnix:
		return unixTimestamp(1_000_000, "want a number of seconds since 1970")
	case pipeline.LayoutUnixMS:
		return unixTimestamp(1_000, "want a number of milliseconds since 1970")
	}
	goLayout, want := layout, "want a timestamp in the layout "+strconv.Quote(layout)
	if layout == pipeline.LayoutRFC3339 || layout == "" {
		goLayout, want = time.RFC3339Nano, "want an RFC 3339 timestamp"
	}
	return func(v gjson.Result) (parquet.Value, string) {
		if v.Type != gjson.String {
			return parquet.Value{}, want
		}
		if goLayout == time.RFC3339Nano && !schema.IsRFC3339(v.Str) {
			return parquet.Value{}, want
		}
		t, err := time.Parse(goLayout, v.Str)
		if err != nil {
			return parquet.Value{}, want
		}
		return parquet.Int64Value(t.UnixMicro()), ""
	}
}

var microsPerUnit = map[int64]*big.Rat{1_000_000: big.NewRat(1_000_000, 1), 1_000: big.NewRat(1_000, 1)}

func unixTimestamp(perUnit int64, want string) convert {
	mul := microsPerUnit[perUnit]
	return func(v gjson.Result) (parquet.Value, string) {
		lit, ok := numberText(v)
		if !ok {
			return parquet.Value{}, want
		}
		if n, err := strconv.ParseInt(lit, 10, 64); err == nil {
			if n > math.MaxInt64/perUnit || n < math.MinInt64/perUnit {
				return parquet.Value{}, "beyond the timestamp range"
			}
			return parquet.Int64Value(n * perUnit), ""
		}
		r, why := exactNumber(lit)
		if r == nil {
			return parquet.Value{}, why
		}
		r.Mul(r, mul)
		micros := floorInt(r)
		if !micros.IsInt64() {
			return parquet.Value{}, "beyond the timestamp range"
		}
		return parquet.Int64Value(micros.Int64()), ""
	}
}

// floorInt is the largest integer ≤ r.
func floorInt(r *big.Rat) *big.Int {
	q, _ := new(big.Int).DivMod(r.Num(), r.Denom(), new(big.Int)) // Euclidean, and the denominator is positive: the floor
	return q
}

var numberRE = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// numberText is the JSON number literal of v: a number, or a string
// holding one (some APIs quote numbers too large for a double).
func numberText(v gjson.Result) (string, bool) {
	switch v.Type {
	case gjson.Number:
		return v.Raw, true
	case gjson.String:
		return v.Str, numberRE.MatchString(v.Str)
	}
	return "", false
}

// maxExponent bounds the exponent of a number read exactly, so that a
// value such as 1e999999999 cannot make big.Rat allocate gigabytes.
const maxExponent = 400

// exactNumber reads a JSON number literal exactly.
func exactNumber(lit string) (*big.Rat, string) {
	if i := strings.IndexAny(lit, "eE"); i >= 0 {
		e, err := strconv.Atoi(lit[i+1:])
		if err != nil || e > maxExponent || e < -maxExponent {
			return nil, "exponent out of range"
		}
	}
	r, ok := new(big.Rat).SetString(lit)
	if !ok {
		return nil, "want a number"
	}
	return r, ""
}

func nestedKind(v gjson.Result) string {
	if v.IsArray() {
		return "array"
	}
	return "object"
}
