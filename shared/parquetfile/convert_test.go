package parquetfile_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/shared/parquetfile"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/schema"
)

func oneColumn(t *testing.T, typ, layout string) schema.Schema {
	t.Helper()
	var ct pipeline.ColumnType
	if err := ct.UnmarshalText([]byte(typ)); err != nil {
		t.Fatal(err)
	}
	return schema.Schema{Columns: []schema.Column{{Name: "v", Path: "v", Type: ct, Layout: layout}}}
}

// Each declared type: the JSON value in a record, and what a reader reads
// back (as text), or why the value does not fit.
func TestDeclaredConversions(t *testing.T) {
	for _, tc := range []struct {
		typ, layout, value string
		want               string // read back; "" when a mismatch is wanted
		mismatch           string // a part of the reason
	}{
		{typ: "string", value: `"plain"`, want: "plain"},
		{typ: "string", value: `"Zoë Ørsted 李雷 🚚"`, want: "Zoë Ørsted 李雷 🚚"},
		{typ: "string", value: `"caf\u00e9 \ud83d\ude80 \"q\" \n"`, want: "café 🚀 \"q\" \n"},
		{typ: "string", value: `12.50`, want: "12.50"},
		{typ: "string", value: `true`, want: "true"},
		{typ: "string", value: `{"a":1}`, mismatch: "want a string, got an object"},
		{typ: "string", value: `[1]`, mismatch: "got an array"},

		{typ: "int64", value: `42`, want: "42"},
		{typ: "int64", value: `-9223372036854775808`, want: "-9223372036854775808"},
		{typ: "int64", value: `9007199254740993`, want: "9007199254740993"}, // 2^53+1: exact
		{typ: "int64", value: `9223372036854775807`, want: "9223372036854775807"},
		{typ: "int64", value: `"9007199254740993"`, want: "9007199254740993"},
		{typ: "int64", value: `1e3`, want: "1000"},
		{typ: "int64", value: `2.0`, want: "2"},
		{typ: "int64", value: `9223372036854775808`, mismatch: "beyond the int64 range"},
		{typ: "int64", value: `1.5`, mismatch: "want an integer, got a fraction"},
		{typ: "int64", value: `"12a"`, mismatch: "want an integer"},
		{typ: "int64", value: `true`, mismatch: "want an integer"},
		{typ: "int64", value: `1e999999999`, mismatch: "exponent out of range"},

		{typ: "float64", value: `1.5`, want: "1.5"},
		{typ: "float64", value: `-2e-3`, want: "-0.002"},
		{typ: "float64", value: `7`, want: "7"},
		{typ: "float64", value: `"3.25"`, want: "3.25"},
		{typ: "float64", value: `"NaN"`, mismatch: "want a number"},
		{typ: "float64", value: `1e400`, mismatch: "beyond the float64 range"},

		{typ: "bool", value: `true`, want: "true"},
		{typ: "bool", value: `false`, want: "false"},
		{typ: "bool", value: `"false"`, want: "false"},
		{typ: "bool", value: `1`, mismatch: "want true or false"},
		{typ: "bool", value: `"yes"`, mismatch: "want true or false"},

		{typ: "timestamp", layout: "rfc3339", value: `"2024-01-02T03:04:05Z"`, want: "2024-01-02T03:04:05Z"},
		{typ: "timestamp", layout: "rfc3339", value: `"2024-01-02T03:04:05.123456+02:00"`, want: "2024-01-02T01:04:05.123456Z"},
		{typ: "timestamp", layout: "rfc3339", value: `"2024-01-02T03:04:05.1234567Z"`, want: "2024-01-02T03:04:05.123456Z"}, // below a microsecond: dropped
		{typ: "timestamp", layout: "rfc3339", value: `"1969-12-31T23:59:59.9999999Z"`, want: "1969-12-31T23:59:59.999999Z"},
		{typ: "timestamp", layout: "rfc3339", value: `"2024-01-02 03:04:05"`, mismatch: "want an RFC 3339 timestamp"},
		{typ: "timestamp", layout: "rfc3339", value: `1704164645`, mismatch: "want an RFC 3339 timestamp"},
		{typ: "timestamp", layout: "unix", value: `1704164645`, want: "2024-01-02T03:04:05Z"},
		{typ: "timestamp", layout: "unix", value: `1704164645.25`, want: "2024-01-02T03:04:05.25Z"},
		{typ: "timestamp", layout: "unix", value: `"1704164645"`, want: "2024-01-02T03:04:05Z"},
		{typ: "timestamp", layout: "unix", value: `-1.5`, want: "1969-12-31T23:59:58.5Z"},
		{typ: "timestamp", layout: "unix", value: `"soon"`, mismatch: "want a number of seconds"},
		{typ: "timestamp", layout: "unix", value: `99999999999999999`, mismatch: "beyond the timestamp range"},
		{typ: "timestamp", layout: "unix_ms", value: `1704164645123`, want: "2024-01-02T03:04:05.123Z"},
		{typ: "timestamp", layout: "unix_ms", value: `1704164645123.4567`, want: "2024-01-02T03:04:05.123456Z"},
		{typ: "timestamp", layout: "unix_ms", value: `"x"`, mismatch: "want a number of milliseconds"},
		{typ: "timestamp", layout: "2006-01-02 15:04:05", value: `"2024-01-02 03:04:05"`, want: "2024-01-02T03:04:05Z"},
		{typ: "timestamp", layout: "02/01/2006 15:04 MST", value: `"02/01/2024 03:04 UTC"`, want: "2024-01-02T03:04:00Z"},
		{typ: "timestamp", layout: "2006-01-02 15:04:05", value: `"2024-01-02T03:04:05Z"`, mismatch: `want a timestamp in the layout "2006-01-02 15:04:05"`},

		{typ: "date", value: `"2024-01-02"`, want: "2024-01-02"},
		{typ: "date", value: `"1969-07-20"`, want: "1969-07-20"},
		{typ: "date", value: `"2024-02-30"`, mismatch: "want a date YYYY-MM-DD"},
		{typ: "date", value: `"2024-01-02T00:00:00Z"`, mismatch: "want a date YYYY-MM-DD"},

		{typ: "decimal(12,2)", value: `1234.5`, want: "1234.50"},
		{typ: "decimal(12,2)", value: `"-0.01"`, want: "-0.01"},
		{typ: "decimal(12,2)", value: `0.125`, want: "0.13"},   // half away from zero
		{typ: "decimal(12,2)", value: `-0.125`, want: "-0.13"}, // half away from zero
		{typ: "decimal(12,2)", value: `0.124999`, want: "0.12"},
		{typ: "decimal(12,2)", value: `1.5e2`, want: "150.00"},
		{typ: "decimal(12,2)", value: `9999999999.99`, want: "9999999999.99"},
		{typ: "decimal(12,2)", value: `9999999999.995`, mismatch: "decimal overflow"}, // rounds to 13 digits
		{typ: "decimal(12,2)", value: `10000000000`, mismatch: "decimal overflow"},
		{typ: "decimal(12,2)", value: `"abc"`, mismatch: "want a number"},
		{typ: "decimal(5,0)", value: `-99999`, want: "-99999"},
		{typ: "decimal(5,5)", value: `0.123456`, want: "0.12346"},
		{typ: "decimal(5,5)", value: `1`, mismatch: "decimal overflow"},
		{typ: "decimal(18,4)", value: `-12345678901234.5678`, want: "-12345678901234.5678"},
		{typ: "decimal(38,0)", value: `98765432109876543210`, want: "98765432109876543210"},
		{typ: "decimal(38,0)", value: `9007199254740993`, want: "9007199254740993"},
		{typ: "decimal(38,0)", value: `-99999999999999999999999999999999999999`, want: "-99999999999999999999999999999999999999"},
		{typ: "decimal(38,0)", value: `100000000000000000000000000000000000000`, mismatch: "decimal overflow"},
		{typ: "decimal(38,3)", value: `17014118346046923173.5`, want: "17014118346046923173.500"},
		{typ: "decimal(20,2)", value: `-1`, want: "-1.00"},
		{typ: "decimal(38,2)", value: `-12.345`, want: "-12.35"},
		{typ: "decimal(38,2)", value: `"12.344999"`, want: "12.34"},
		{typ: "decimal(38,10)", value: `-123456789.0123456789`, want: "-123456789.0123456789"}, // 19 digits: the exact path
		{typ: "decimal(38,10)", value: `-12345678.01234567895`, want: "-12345678.0123456790"},

		{typ: "json", value: `{"a": [1, "é"]}`, want: `{"a": [1, "é"]}`},
		{typ: "json", value: `"text"`, want: `"text"`},
		{typ: "json", value: `123456789012345678901234567890`, want: `123456789012345678901234567890`},
	} {
		name := tc.typ + " " + tc.layout + " " + tc.value
		t.Run(name, func(t *testing.T) {
			s := oneColumn(t, tc.typ, tc.layout)
			var buf bytes.Buffer
			w, err := parquetfile.NewWriter(&buf, s, parquetfile.Options{})
			if err != nil {
				t.Fatal(err)
			}
			err = w.Write([]byte(`{"v":` + tc.value + `}`))
			if tc.mismatch != "" {
				var m *parquetfile.MismatchError
				if !errors.As(err, &m) {
					t.Fatalf("Write: %v, want a *MismatchError", err)
				}
				if !strings.Contains(m.Reason, tc.mismatch) || m.Column != "v" || m.Path != "v" || m.Value != tc.value {
					t.Errorf("mismatch %+v, want column v, path v, value %s, a reason with %q", m, tc.value, tc.mismatch)
				}
				return
			}
			if err != nil {
				t.Fatalf("Write: %v", err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			rows := readBack(t, buf.Bytes(), s)
			if len(rows) != 1 || rows[0][0] != tc.want {
				t.Errorf("read back %q, want %q", rows, tc.want)
			}
		})
	}
}

// A missing field and a JSON null are NULL, in every type.
func TestMissingIsNull(t *testing.T) {
	for _, typ := range []string{"string", "int64", "float64", "bool", "timestamp", "date", "decimal(38,2)", "decimal(9,2)", "json"} {
		s := oneColumn(t, typ, "rfc3339")
		s.Columns = append(s.Columns, schema.Column{Name: "k", Path: "k", Type: pipeline.ColumnType{Kind: pipeline.KindInt64}})
		got := readBack(t, write(t, s, parquetfile.Options{}, `{"k":1}`, `{"v":null,"k":2}`, `{}`), s)
		want := [][]string{{"NULL", "1"}, {"NULL", "2"}, {"NULL", "NULL"}}
		if !equalRows(got, want) {
			t.Errorf("%s: read back %q, want %q", typ, got, want)
		}
	}
}

func equalRows(a, b [][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if strings.Join(a[i], "\x00") != strings.Join(b[i], "\x00") {
			return false
		}
	}
	return true
}

func TestMismatchValueIsCut(t *testing.T) {
	s := oneColumn(t, "int64", "")
	var buf bytes.Buffer
	w, _ := parquetfile.NewWriter(&buf, s, parquetfile.Options{})
	long := `"` + strings.Repeat("é", 100) + `"`
	var m *parquetfile.MismatchError
	if err := w.Write([]byte(`{"v":` + long + `}`)); !errors.As(err, &m) {
		t.Fatalf("Write: %v, want a mismatch", err)
	}
	if len(m.Value) > 70 || !strings.HasSuffix(m.Value, "…") || !strings.HasPrefix(long, strings.TrimSuffix(m.Value, "…")) {
		t.Errorf("value %q: want the value's first 64 bytes or less, on a character boundary, and …", m.Value)
	}
	if !strings.Contains(m.Error(), "column v (path v)") {
		t.Errorf("error %q names neither column nor path", m.Error())
	}
}
