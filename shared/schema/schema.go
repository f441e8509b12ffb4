package schema

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/sluice-data/sluice/shared/pipeline"
)

// Column is one column of a parquet file.
type Column struct {
	// Name of the column (a-z, 0-9 and _).
	Name string
	// Path is the gjson path of the column's value in a record.
	Path string
	// Type of the column.
	Type pipeline.ColumnType
	// Layout of a timestamp's text (pipeline.LayoutRFC3339, LayoutUnix,
	// LayoutUnixMS or a Go time layout); timestamp columns only.
	Layout string
}

// Schema is the columns of a parquet file, in order.
type Schema struct {
	Columns []Column
	// RecordColumn, when not empty, names a json column after Columns that
	// keeps each whole record as the API sent it.
	RecordColumn string
}

// Declared returns the schema a source's output declares, and false when
// it declares no columns: then the columns are to be inferred, and the
// schema returned has only RecordColumn set. The usual caller:
//
//	s, ok := schema.Declared(src.Output)
//	if !ok {
//		// … inf.Add every record …
//		s = inf.Schema().WithRecordColumn(src.Output.RecordColumn)
//	}
func Declared(o pipeline.Output) (Schema, bool) {
	s := Schema{RecordColumn: o.RecordColumn}
	if len(o.Columns) == 0 {
		return s, false
	}
	s.Columns = make([]Column, len(o.Columns))
	for i, c := range o.Columns {
		col := Column{Name: c.Name, Path: c.Path, Type: c.Type, Layout: c.Layout}
		if col.Path == "" {
			col.Path = col.Name
		}
		if col.Type.Kind == pipeline.KindTimestamp && col.Layout == "" {
			col.Layout = pipeline.LayoutRFC3339
		}
		s.Columns[i] = col
	}
	return s, true
}

// WithRecordColumn returns s with RecordColumn set to name; a column of s
// already called name is renamed name_2 (or the first of name_3, … that is
// free). An empty name returns s unchanged.
func (s Schema) WithRecordColumn(name string) Schema {
	if name == "" {
		return s
	}
	out := Schema{Columns: make([]Column, len(s.Columns)), RecordColumn: name}
	copy(out.Columns, s.Columns)
	taken := map[string]bool{name: true}
	for _, c := range out.Columns {
		taken[c.Name] = true
	}
	for i := range out.Columns {
		if out.Columns[i].Name == name {
			out.Columns[i].Name = freeName(name, taken)
			break
		}
	}
	return out
}

// Names returns the column names in file order, the record column last.
func (s Schema) Names() []string {
	names := make([]string, 0, len(s.Columns)+1)
	for _, c := range s.Columns {
		names = append(names, c.Name)
	}
	if s.RecordColumn != "" {
		names = append(names, s.RecordColumn)
	}
	return names
}

// Validate reports the first problem that keeps s from being written: no
// column at all, an empty or duplicate name, an empty path, a bad decimal.
func (s Schema) Validate() error {
	if len(s.Columns) == 0 && s.RecordColumn == "" {
		return fmt.Errorf("schema has no columns")
	}
	seen := map[string]bool{}
	for i, c := range s.Columns {
		switch {
		case c.Name == "":
			return fmt.Errorf("column %d: empty name", i)
		case seen[c.Name]:
			return fmt.Errorf("column %d: duplicate name %q", i, c.Name)
		case c.Path == "":
			return fmt.Errorf("column %q: empty path", c.Name)
		case c.Type.Kind == pipeline.KindDecimal && (c.Type.Precision < 1 || c.Type.Precision > pipeline.MaxDecimalPrecision || c.Type.Scale < 0 || c.Type.Scale > c.Type.Precision):
			return fmt.Errorf("column %q: bad type %s", c.Name, c.Type)
		}
		seen[c.Name] = true
	}
	if seen[s.RecordColumn] {
		return fmt.Errorf("record column %q is also a column", s.RecordColumn)
	}
	return nil
}

// Fingerprint is a stable hash of the schema (names, paths, types, layouts,
// record column, in order): two partitions have the same columns exactly
// when their fingerprints are equal.
func (s Schema) Fingerprint() string {
	h := sha256.New()
	for _, c := range s.Columns {
		fmt.Fprintf(h, "%s %s %s %s\n", strconv.Quote(c.Name), strconv.Quote(c.Path), c.Type, strconv.Quote(c.Layout))
	}
	fmt.Fprintf(h, "record %s\n", strconv.Quote(s.RecordColumn))
	return hex.EncodeToString(h.Sum(nil)[:16])
}
