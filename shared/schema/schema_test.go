package schema_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/schema"
)

func parseOutput(t *testing.T, output string) pipeline.Output {
	t.Helper()
	cfg := "version: 1\nsources:\n  - name: a\n    request: {base_url: \"http://x\", path: /a}\n    pagination: {type: none}\n    partition: {every: day}\n    output:\n" + indent(output, "      ")
	c, err := pipeline.Parse("test.yaml", []byte(cfg))
	if err != nil {
		t.Fatalf("config:\n%s\n%v", cfg, err)
	}
	return c.Sources[0].Output
}

func indent(s, by string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = by + lines[i]
	}
	return strings.Join(lines, "\n") + "\n"
}

func TestDeclared(t *testing.T) {
	o := parseOutput(t, `format: parquet
record_column: raw
columns:
  - {name: id, type: int64}
  - {name: total, path: amount.total, type: "decimal(12,2)"}
  - {name: at, type: timestamp}
  - {name: day, type: timestamp, layout: "2006-01-02 15:04"}
`)
	s, ok := schema.Declared(o)
	if !ok {
		t.Fatal("Declared: false for declared columns")
	}
	want := schema.Schema{RecordColumn: "raw", Columns: []schema.Column{
		{Name: "id", Path: "id", Type: pipeline.ColumnType{Kind: pipeline.KindInt64}},
		{Name: "total", Path: "amount.total", Type: pipeline.ColumnType{Kind: pipeline.KindDecimal, Precision: 12, Scale: 2}},
		{Name: "at", Path: "at", Type: pipeline.ColumnType{Kind: pipeline.KindTimestamp}, Layout: "rfc3339"},
		{Name: "day", Path: "day", Type: pipeline.ColumnType{Kind: pipeline.KindTimestamp}, Layout: "2006-01-02 15:04"},
	}}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("Declared\n got %+v\nwant %+v", s, want)
	}

	s, ok = schema.Declared(parseOutput(t, "format: parquet\nrecord_column: raw\n"))
	if ok || len(s.Columns) != 0 || s.RecordColumn != "raw" {
		t.Errorf("Declared without columns = %+v, %v; want only the record column, false", s, ok)
	}
}

func TestWithRecordColumn(t *testing.T) {
	s := schema.Schema{Columns: []schema.Column{
		{Name: "record", Path: "record"}, {Name: "record_2", Path: "x"}, {Name: "a", Path: "a"},
	}}
	got := s.WithRecordColumn("record")
	if names := strings.Join(got.Names(), " "); names != "record_3 record_2 a record" {
		t.Errorf("names %s, want record_3 record_2 a record", names)
	}
	if got.Columns[0].Path != "record" {
		t.Errorf("renamed column's path %q, want record", got.Columns[0].Path)
	}
	if s.Columns[0].Name != "record" {
		t.Error("WithRecordColumn changed its receiver")
	}
	if err := got.Validate(); err != nil {
		t.Error(err)
	}
	if got := s.WithRecordColumn(""); !reflect.DeepEqual(got, s) {
		t.Errorf("WithRecordColumn(\"\") = %+v", got)
	}
}

func TestValidate(t *testing.T) {
	str := pipeline.ColumnType{Kind: pipeline.KindString}
	for _, tc := range []struct {
		name string
		s    schema.Schema
		want string
	}{
		{"empty", schema.Schema{}, "no columns"},
		{"record column only", schema.Schema{RecordColumn: "r"}, ""},
		{"no name", schema.Schema{Columns: []schema.Column{{Path: "a", Type: str}}}, "empty name"},
		{"no path", schema.Schema{Columns: []schema.Column{{Name: "a", Type: str}}}, "empty path"},
		{"duplicate", schema.Schema{Columns: []schema.Column{{Name: "a", Path: "a", Type: str}, {Name: "a", Path: "b", Type: str}}}, "duplicate"},
		{"record column taken", schema.Schema{RecordColumn: "a", Columns: []schema.Column{{Name: "a", Path: "a", Type: str}}}, "also a column"},
		{"bad decimal", schema.Schema{Columns: []schema.Column{{Name: "a", Path: "a", Type: pipeline.ColumnType{Kind: pipeline.KindDecimal, Precision: 40}}}}, "bad type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	base := schema.Schema{RecordColumn: "r", Columns: []schema.Column{
		{Name: "a", Path: "a", Type: pipeline.ColumnType{Kind: pipeline.KindTimestamp}, Layout: "rfc3339"},
		{Name: "b", Path: "b", Type: pipeline.ColumnType{Kind: pipeline.KindDecimal, Precision: 10, Scale: 2}},
	}}
	fp := base.Fingerprint()
	// The fingerprint is compared across runs and releases: it must not
	// change unless the schema does.
	if want := "f2cb7561c24cb4a3f0ea00c293db8c71"; fp != want {
		t.Errorf("fingerprint %s, want %s (the one manifests hold)", fp, want)
	}
	changes := map[string]func(s *schema.Schema){
		"name":          func(s *schema.Schema) { s.Columns[0].Name = "x" },
		"path":          func(s *schema.Schema) { s.Columns[0].Path = "x" },
		"type":          func(s *schema.Schema) { s.Columns[0].Type.Kind = pipeline.KindString },
		"layout":        func(s *schema.Schema) { s.Columns[0].Layout = "unix" },
		"scale":         func(s *schema.Schema) { s.Columns[1].Type.Scale = 3 },
		"order":         func(s *schema.Schema) { s.Columns[0], s.Columns[1] = s.Columns[1], s.Columns[0] },
		"record column": func(s *schema.Schema) { s.RecordColumn = "" },
		"one column less": func(s *schema.Schema) {
			s.Columns = s.Columns[:1]
		},
	}
	for name, change := range changes {
		s := base
		s.Columns = append([]schema.Column(nil), base.Columns...)
		if s.Fingerprint() != fp {
			t.Fatalf("%s: the fingerprint of a copy differs", name)
		}
		change(&s)
		if s.Fingerprint() == fp {
			t.Errorf("changing the %s keeps the fingerprint", name)
		}
	}
}

func TestGlue(t *testing.T) {
	o := parseOutput(t, `format: parquet
record_column: raw
columns:
  - {name: s, type: string}
  - {name: i, type: int64}
  - {name: f, type: float64}
  - {name: b, type: bool}
  - {name: t, type: timestamp, layout: unix}
  - {name: d, type: date}
  - {name: n, type: "decimal(38,0)"}
  - {name: m, type: "decimal(12, 2)"}
  - {name: j, type: json}
`)
	s, _ := schema.Declared(o)
	var got []string
	for _, c := range s.Glue() {
		got = append(got, c.Name+" "+c.Type)
	}
	want := "s string, i bigint, f double, b boolean, t timestamp, d date, n decimal(38,0), m decimal(12,2), j string, raw string"
	if strings.Join(got, ", ") != want {
		t.Errorf("Glue\n got %s\nwant %s", strings.Join(got, ", "), want)
	}
}

// What YAML prints, pasted into a config, loads as the same columns.
func TestYAMLLoadsBack(t *testing.T) {
	inf := schema.NewInferrer()
	rec := `{"id":1,"userId":"u","a.b":{"c":1},"true":true,"null":null,"at":"2024-01-02T03:04:05Z","big":98765432109876543210,"q\"uote: x":1.5,"ünï":"x","-dash":2}`
	if err := inf.Add([]byte(rec)); err != nil {
		t.Fatal(err)
	}
	s := inf.Schema()
	text := s.YAML()
	if !strings.HasPrefix(text, "columns:\n  - {name: id, type: int64}\n") {
		t.Errorf("YAML starts\n%s", text)
	}
	loaded, ok := schema.Declared(parseOutput(t, "format: parquet\n"+text))
	if !ok || !reflect.DeepEqual(loaded, s) {
		t.Errorf("YAML\n%s\nloads as\n%+v\nwant\n%+v", text, loaded, s)
	}
}
