package pipeline

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Output says what a source's published files look like. Batches are
// always staged as gzip JSON Lines, records byte for byte as the API sent
// them; Output applies when an attempt is committed, where the staged
// parts are compacted into files near FileSize in Format. So it is not
// part of Source.Fingerprint: a change between two hops of a fetch mixes
// nothing.
type Output struct {
	// Format of the published files: jsonl (default) or parquet.
	Format Format `yaml:"format"`
	// FileSize is the target size of each published file (default
	// 128MiB, accepted 8MiB to 1GiB), in staged bytes: a file takes whole
	// staged parts until they reach it, so records are never split
	// across files.
	FileSize ByteSize `yaml:"file_size"`
	// Compression of parquet files: zstd (default) or snappy. jsonl files
	// are gzip, always.
	Compression Compression `yaml:"compression"`
	// Columns are the declared columns of parquet files. When none are
	// declared, the columns are inferred from the records. For jsonl they
	// are only the Glue table's columns (top-level keys, read by the JSON
	// SerDe); the files keep the records as they are.
	Columns []Column `yaml:"columns"`
	// RecordColumn, when set, is the name of a json column of parquet
	// files that keeps each whole record as the API sent it, so that
	// nothing is ever dropped.
	RecordColumn string `yaml:"record_column"`
}

// Format is a published file format.
type Format string

// The formats.
const (
	JSONL   Format = "jsonl"
	Parquet Format = "parquet"
)

// Compression is a parquet compression codec.
type Compression string

// The parquet codecs. zstd is the default: its files are about a third
// smaller than snappy's for JSON-like data at a similar read speed, and
// Athena, Spark, DuckDB and Redshift Spectrum all read it; snappy is for
// readers that cannot.
const (
	Zstd   Compression = "zstd"
	Snappy Compression = "snappy"
)

// Output file size bounds and default.
const (
	MinFileSize     ByteSize = 8 << 20
	MaxFileSize     ByteSize = 1 << 30
	DefaultFileSize ByteSize = 128 << 20
)

// Column is one declared parquet column.
type Column struct {
	// Name of the column: lowercase letters, digits and _, starting with
	// a letter or _ (what Glue and Athena accept without quoting).
	Name string `yaml:"name"`
	// Path is the gjson path of the value in a record (default: Name).
	Path string `yaml:"path"`
	// Type of the column.
	Type ColumnType `yaml:"type"`
	// Layout of a timestamp's text: rfc3339 (default), unix (seconds),
	// unix_ms, or a Go time layout such as "2006-01-02 15:04:05".
	// timestamp columns only.
	Layout string `yaml:"layout"`
}

// Kind is a column type without its parameters.
type Kind string

// The column kinds.
const (
	KindString    Kind = "string"
	KindInt64     Kind = "int64"
	KindFloat64   Kind = "float64"
	KindBool      Kind = "bool"
	KindTimestamp Kind = "timestamp"
	KindDate      Kind = "date"
	KindDecimal   Kind = "decimal"
	KindJSON      Kind = "json"
)

// Kinds lists the column kinds, in the order documented.
var Kinds = []Kind{KindString, KindInt64, KindFloat64, KindBool, KindTimestamp, KindDate, KindDecimal, KindJSON}

// MaxDecimalPrecision is the largest decimal precision (Glue, Athena and
// parquet's 16-byte decimals).
const MaxDecimalPrecision = 38

// ColumnType is a column's type: a Kind, and for decimals their precision
// and scale, written decimal(p,s).
type ColumnType struct {
	Kind      Kind
	Precision int // decimal only: 1…38 digits
	Scale     int // decimal only: 0…Precision digits after the point
}

var decimalRE = regexp.MustCompile(`^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$`)

// UnmarshalText reads a type as written in the config.
func (t *ColumnType) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if m := decimalRE.FindStringSubmatch(s); m != nil {
		p, _ := strconv.Atoi(m[1])
		sc, _ := strconv.Atoi(m[2])
		if p < 1 || p > MaxDecimalPrecision || sc > p {
			return fmt.Errorf("%s: want decimal(p,s) with 1 ≤ p ≤ %d and 0 ≤ s ≤ p", s, MaxDecimalPrecision)
		}
		*t = ColumnType{Kind: KindDecimal, Precision: p, Scale: sc}
		return nil
	}
	for _, k := range Kinds {
		if k != KindDecimal && string(k) == s {
			*t = ColumnType{Kind: k}
			return nil
		}
	}
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = string(k)
	}
	names[slices.Index(Kinds, KindDecimal)] = "decimal(p,s)"
	return fmt.Errorf("unknown type %q (want %s)", s, strings.Join(names, ", "))
}

// String writes the type as the config does.
func (t ColumnType) String() string {
	if t.Kind == KindDecimal {
		return fmt.Sprintf("decimal(%d,%d)", t.Precision, t.Scale)
	}
	return string(t.Kind)
}

// MarshalText writes the type as the config does.
func (t ColumnType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// ByteSize is a size in bytes, written in the config as a number of bytes
// or with a unit: KiB, MiB, GiB (powers of 1024) or KB, MB, GB (of 1000).
type ByteSize int64

var byteUnits = []struct {
	suffix string
	n      int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1},
}

// UnmarshalText reads a size such as 128MiB.
func (b *ByteSize) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	num, unit := s, int64(1)
	for _, u := range byteUnits {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, unit = strings.TrimSpace(n), u.n
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/unit {
		return fmt.Errorf("%q: want a size such as 128MiB (units: B, KiB, MiB, GiB, KB, MB, GB)", s)
	}
	*b = ByteSize(n * unit)
	return nil
}

// String writes the size with the largest binary unit that divides it.
func (b ByteSize) String() string {
	for _, u := range []struct {
		suffix string
		n      int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if b != 0 && int64(b)%u.n == 0 {
			return strconv.FormatInt(int64(b)/u.n, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}

// MarshalText writes the size as String does.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// Timestamp layouts with names.
const (
	LayoutRFC3339 = "rfc3339"
	LayoutUnix    = "unix"
	LayoutUnixMS  = "unix_ms"
)

var columnNameRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,127}$`)

// topLevelKeyRE matches a gjson path that is one plain top-level key.
var topLevelKeyRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func (d *decoder) applyOutputDefaults(p string, o *Output) {
	if !d.has(p + ".format") {
		o.Format = JSONL
	}
	if !d.has(p + ".file_size") {
		o.FileSize = DefaultFileSize
	}
	if o.Format == Parquet && !d.has(p+".compression") {
		o.Compression = Zstd
	}
	for i := range o.Columns {
		c := &o.Columns[i]
		cp := fmt.Sprintf("%s.columns[%d]", p, i)
		if !d.has(cp + ".path") {
			c.Path = c.Name
		}
		if c.Type.Kind == KindTimestamp && !d.has(cp+".layout") {
			c.Layout = LayoutRFC3339
		}
	}
}

func (d *decoder) validateOutput(p string, o *Output) {
	switch o.Format {
	case JSONL, Parquet:
	default:
		d.invalid(p+".format", "unknown format %q (want jsonl, parquet)", o.Format)
	}
	if o.FileSize < MinFileSize || o.FileSize > MaxFileSize {
		d.invalid(p+".file_size", "%s: want %s to %s", o.FileSize, MinFileSize, MaxFileSize)
	}
	if o.Format != Parquet {
		for _, f := range []string{"compression", "record_column"} {
			if d.has(p + "." + f) {
				d.invalid(p+"."+f, "applies to format parquet only (jsonl files are gzip JSON Lines, records as the API sent them)")
			}
		}
		// jsonl files keep the records as they are; declared columns are
		// the Glue table's, read by the JSON SerDe, which sees top-level
		// keys only.
		first := map[string]string{}
		for i := range o.Columns {
			cp := fmt.Sprintf("%s.columns[%d]", p, i)
			c := &o.Columns[i]
			d.validateColumn(cp, c, first)
			if c.Path != "" && !topLevelKeyRE.MatchString(c.Path) {
				d.invalid(cp+".path", "%q: jsonl columns read a top-level key (letters, digits, _ and -); use format parquet for nested paths, or no columns and json_extract on the record", c.Path)
			}
			if c.Type.Kind == KindTimestamp && c.Layout != LayoutRFC3339 {
				d.invalid(cp+".layout", "%q: jsonl timestamp columns read rfc3339 text only (the JSON SerDe parses no other layout)", c.Layout)
			}
		}
		return
	}
	switch o.Compression {
	case Zstd, Snappy:
	default:
		d.invalid(p+".compression", "unknown codec %q (want zstd, snappy)", o.Compression)
	}
	first := map[string]string{}
	if o.RecordColumn != "" {
		if !columnNameRE.MatchString(o.RecordColumn) {
			d.invalid(p+".record_column", "invalid column name %q (want a-z, 0-9 and _, not starting with a digit)", o.RecordColumn)
		}
		first[o.RecordColumn] = p + ".record_column"
	}
	for i := range o.Columns {
		d.validateColumn(fmt.Sprintf("%s.columns[%d]", p, i), &o.Columns[i], first)
	}
}

func (d *decoder) validateColumn(p string, c *Column, first map[string]string) {
	switch {
	case c.Name == "":
		d.invalid(p+".name", "required")
	case !columnNameRE.MatchString(c.Name):
		d.invalid(p+".name", "invalid column name %q (want a-z, 0-9 and _, not starting with a digit)", c.Name)
	default:
		if at, dup := first[c.Name]; dup {
			d.invalid(p+".name", "duplicate column %q (first at %s)", c.Name, at)
		} else {
			first[c.Name] = p
		}
	}
	if d.has(p+".path") || c.Name != "" {
		d.checkJSONPath(p+".path", c.Path, false)
	}
	if !d.has(p + ".type") {
		d.invalid(p+".type", "required")
	}
	if d.has(p+".layout") && c.Type.Kind != KindTimestamp {
		d.invalid(p+".layout", "applies to timestamp columns only")
	}
	if c.Type.Kind == KindTimestamp {
		switch c.Layout {
		case LayoutRFC3339, LayoutUnix, LayoutUnixMS:
		default:
			if !strings.Contains(c.Layout, "2006") {
				d.invalid(p+".layout", "%q: want rfc3339, unix, unix_ms or a Go time layout with the year 2006 in it", c.Layout)
			}
		}
	}
}
