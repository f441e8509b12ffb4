package schema

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/sluice-data/sluice/shared/pipeline"
)

// Inferrer infers a schema from records by the rules in the package doc.
// Add every record, then call Schema. Its memory is one small state per
// distinct top-level key. Not safe for concurrent use.
type Inferrer struct {
	cols  []*field
	byKey map[string]*field
	taken map[string]bool
}

// NewInferrer returns an Inferrer that has seen no record.
func NewInferrer() *Inferrer {
	return &Inferrer{byKey: map[string]*field{}, taken: map[string]bool{}}
}

// field is what an Inferrer knows of one top-level key.
type field struct {
	name, key string

	// kinds seen (null is no kind)
	bool, nested, number bool
	str                  bool // any string
	strPlain             bool // a string neither RFC 3339 nor YYYY-MM-DD
	strTime, strDate     bool

	// numbers
	float     bool // a number with a fraction or an exponent
	exponent  bool // a number with an exponent
	inexact   bool // a number a float64 does not hold exactly (see seeNumber)
	beyond64  bool // an integer beyond int64
	beyond38  bool // an integer of more than 38 digits
	intDigits int  // most digits before the point
	scale     int  // most digits after the point
}

// ErrNotObject is Add's error for a record that is valid JSON but not an
// object: it has no fields to make columns of. Only a record column can
// keep such a record; without one, the caller fails the run.
var ErrNotObject = errors.New("record is not a JSON object")

// Add adds one record: a JSON object, as one line of a staged part. A
// record that is not valid JSON, or not an object (ErrNotObject), is an
// error, and adds nothing.
func (inf *Inferrer) Add(record []byte) error {
	if !gjson.ValidBytes(record) {
		return errors.New("record is not valid JSON")
	}
	r := gjson.ParseBytes(record)
	if !r.IsObject() {
		return fmt.Errorf("%w: a JSON %s", ErrNotObject, kindName(r))
	}
	r.ForEach(func(k, v gjson.Result) bool {
		if k.Str == "" {
			return true // no path reaches an empty key: only record_column keeps it
		}
		f := inf.byKey[k.Str]
		if f == nil {
			f = &field{key: k.Str, name: freeName(columnName(k.Str), inf.taken)}
			inf.byKey[k.Str] = f
			inf.cols = append(inf.cols, f)
		}
		f.see(v)
		return true
	})
	return nil
}

func kindName(r gjson.Result) string {
	switch {
	case r.IsArray():
		return "array"
	case r.Type == gjson.String:
		return "string"
	case r.Type == gjson.Number:
		return "number"
	case r.Type == gjson.True, r.Type == gjson.False:
		return "boolean"
	default:
		return "null"
	}
}

func (f *field) see(v gjson.Result) {
	switch v.Type {
	case gjson.Null:
	case gjson.True, gjson.False:
		f.bool = true
	case gjson.String:
		f.str = true
		switch {
		case IsDate(v.Str):
			f.strDate = true
		case IsRFC3339(v.Str):
			f.strTime = true
		default:
			f.strPlain = true
		}
	case gjson.Number:
		f.number = true
		f.seeNumber(v.Raw)
	case gjson.JSON:
		f.nested = true
	}
}

var two53 = new(big.Int).Lsh(big.NewInt(1), 53)

// float64Digits is how many significant decimal digits a float64 always
// holds exactly: a number with no more reads back as written.
const float64Digits = 15

// seeNumber notes what a JSON number literal needs. A float64 holds it
// exactly when it is an integer within ±2^53 or has at most 15 significant
// digits; else it is inexact, and the column needs a decimal (or a string).
func (f *field) seeNumber(raw string) {
	mant, _, hasExp := strings.Cut(strings.ToLower(raw), "e")
	intPart, frac, hasFrac := strings.Cut(strings.TrimPrefix(mant, "-"), ".")
	intPart = strings.TrimLeft(intPart, "0")
	if sig := len(strings.TrimLeft(intPart+frac, "0")); (hasFrac || hasExp) && sig > float64Digits {
		f.inexact = true
	}
	if hasExp {
		f.float, f.exponent = true, true
		return
	}
	f.intDigits = max(f.intDigits, len(intPart))
	if hasFrac {
		f.float = true
		f.scale = max(f.scale, len(frac))
		return
	}
	if len(intPart) < 16 { // below 10^15: within int64 and ±2^53
		return
	}
	if _, err := strconv.ParseInt(raw, 10, 64); err != nil {
		f.beyond64 = true
	}
	if len(intPart) > pipeline.MaxDecimalPrecision {
		f.beyond38 = true
	}
	if n, ok := new(big.Int).SetString(raw, 10); ok && n.CmpAbs(two53) > 0 {
		f.inexact = true
	}
}

// IsRFC3339 reports whether s is an RFC 3339 timestamp, as the rfc3339
// layout reads it.
func IsRFC3339(s string) bool {
	if len(s) < len("2006-01-02T15:04:05Z") || !dateLike(s) {
		return false
	}
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}

// IsDate reports whether s is a date YYYY-MM-DD, as a date column reads it.
func IsDate(s string) bool {
	if len(s) != len(time.DateOnly) || !dateLike(s) {
		return false
	}
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

// dateLike reports whether s starts as a date does, 2006-01-02, so that
// most text is not handed to time.Parse.
func dateLike(s string) bool {
	return len(s) >= 10 && s[4] == '-' && s[7] == '-' && '0' <= s[0] && s[0] <= '9'
}

// Schema returns the columns inferred from the records added so far, in
// the order their fields were first seen, without a record column (see
// WithRecordColumn).
func (inf *Inferrer) Schema() Schema {
	s := Schema{Columns: make([]Column, len(inf.cols))}
	for i, f := range inf.cols {
		c := Column{Name: f.name, Path: keyPath(f.key), Type: f.typ()}
		if c.Type.Kind == pipeline.KindTimestamp {
			c.Layout = pipeline.LayoutRFC3339
		}
		s.Columns[i] = c
	}
	return s
}

func (f *field) typ() pipeline.ColumnType {
	kinds := 0
	for _, b := range []bool{f.bool, f.str, f.number} {
		if b {
			kinds++
		}
	}
	str := pipeline.ColumnType{Kind: pipeline.KindString}
	switch {
	case f.nested:
		return pipeline.ColumnType{Kind: pipeline.KindJSON}
	case kinds > 1, kinds == 0:
		return str
	case f.bool:
		return pipeline.ColumnType{Kind: pipeline.KindBool}
	case f.str:
		switch {
		case f.strPlain, f.strTime && f.strDate:
			return str
		case f.strTime:
			return pipeline.ColumnType{Kind: pipeline.KindTimestamp}
		default:
			return pipeline.ColumnType{Kind: pipeline.KindDate}
		}
	}
	// numbers only
	switch {
	case f.beyond38:
		return str
	case !f.float && !f.beyond64:
		return pipeline.ColumnType{Kind: pipeline.KindInt64}
	case !f.float:
		return pipeline.ColumnType{Kind: pipeline.KindDecimal, Precision: pipeline.MaxDecimalPrecision}
	case !f.inexact:
		return pipeline.ColumnType{Kind: pipeline.KindFloat64}
	case !f.exponent && f.intDigits+f.scale <= pipeline.MaxDecimalPrecision:
		return pipeline.ColumnType{Kind: pipeline.KindDecimal, Precision: pipeline.MaxDecimalPrecision, Scale: f.scale}
	default:
		return str
	}
}
