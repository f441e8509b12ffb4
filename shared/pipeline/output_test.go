package pipeline

import "testing"

func TestByteSizeText(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ByteSize
		str  string
	}{
		{"128MiB", 128 << 20, "128MiB"},
		{"1GiB", 1 << 30, "1GiB"},
		{"8 MiB", 8 << 20, "8MiB"},
		{"512KiB", 512 << 10, "512KiB"},
		{"100MB", 100e6, "100000000B"},
		{"2GB", 2e9, "1953125KiB"},
		{"1048576", 1 << 20, "1MiB"},
		{"10B", 10, "10B"},
	} {
		var b ByteSize
		if err := b.UnmarshalText([]byte(tc.in)); err != nil || b != tc.want || b.String() != tc.str {
			t.Errorf("%q: got %d (%s), %v; want %d (%s)", tc.in, b, b, err, tc.want, tc.str)
		}
	}
	for _, in := range []string{"", "MiB", "-1MiB", "1.5GiB", "12 parsecs", "99999999999GiB"} {
		var b ByteSize
		if err := b.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("%q: got %d, want an error", in, b)
		}
	}
}

func TestColumnTypeText(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ColumnType
	}{
		{"string", ColumnType{Kind: KindString}},
		{"int64", ColumnType{Kind: KindInt64}},
		{"float64", ColumnType{Kind: KindFloat64}},
		{"bool", ColumnType{Kind: KindBool}},
		{"timestamp", ColumnType{Kind: KindTimestamp}},
		{"date", ColumnType{Kind: KindDate}},
		{"json", ColumnType{Kind: KindJSON}},
		{"decimal(38,0)", ColumnType{Kind: KindDecimal, Precision: 38, Scale: 0}},
		{"decimal( 9 , 9 )", ColumnType{Kind: KindDecimal, Precision: 9, Scale: 9}},
	} {
		var ct ColumnType
		if err := ct.UnmarshalText([]byte(tc.in)); err != nil || ct != tc.want {
			t.Errorf("%q: got %+v, %v; want %+v", tc.in, ct, err, tc.want)
		}
		var back ColumnType
		if err := back.UnmarshalText([]byte(ct.String())); err != nil || back != ct {
			t.Errorf("%q: %s does not read back: %+v, %v", tc.in, ct, back, err)
		}
	}
	for _, in := range []string{"decimal", "decimal(0,0)", "decimal(10,11)", "decimal(39,1)", "int", "String", "timestamp(3)"} {
		var ct ColumnType
		if err := ct.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("%q: got %+v, want an error", in, ct)
		}
	}
}
