package infracheck

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/sink"
)

// What Athena needs of a table over Sluice's pointers.
const (
	symlinkInputFormat = "org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat"
	textOutputFormat   = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
	jsonSerDe          = "org.openx.data.jsonserde.JsonSerDe"
	parquetSerDe       = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
	lineSerDe          = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
	// defaultProjectionStart is var.glue_projection_start's default.
	defaultProjectionStart = "2020-01-01"
	// lineColumn is the one column of a jsonl table with no declared
	// columns.
	lineColumn = "record"
)

// TestGlueTables: for every source of the pipeline config, the module's
// Glue table is what Athena needs to read exactly the files the source's
// pointers list: SymlinkTextInputFormat, the SerDe of the source's format,
// partition projection on dt (and hr for hourly sources) from the source's
// first window (or the documented default) to NOW, a location template
// that is shared/sink's pointer layout, and the columns the schema package
// derives from the config.
func TestGlueTables(t *testing.T) {
	m := sluiceModule(t)
	cfgPath, err := filepath.Abs(filepath.Join(repoRoot, "scripts/infraplan/pipeline.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pipeline.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, src := range cfg.Sources {
		_, declared := declaredColumns(src.Output)
		kinds[fmt.Sprintf("%s/%v/%s", src.Output.Format, declared, src.Partition.Every)] = true
	}
	if len(kinds) < 3 {
		t.Fatalf("%s covers %v; want jsonl without and with columns and an hourly parquet source", cfgPath, slices.Sorted(maps.Keys(kinds)))
	}
	for _, prefix := range []string{"", "raw/"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			s := m.glueScope(t, cfgPath, prefix)
			tables := m.glueTables(t, s)
			if got, want := sortedKeys(tables), sourceNames(cfg); !slices.Equal(got, want) {
				t.Fatalf("tables for %v, want one per source %v", got, want)
			}
			for _, src := range cfg.Sources {
				checkGlueTable(t, src, "s3://sluice-data-123456789012/", prefix, tables[src.Name])
			}
		})
	}
}

// TestGlueTablePreconditions: a source whose table would have no columns,
// and two sources whose table names collide, fail the plan.
func TestGlueTablePreconditions(t *testing.T) {
	m := sluiceModule(t)
	for _, tc := range []struct {
		name, yaml string
		ok         bool
	}{
		{"parquet with a record column only", "- {name: a, partition: {every: day}, output: {format: parquet, record_column: raw}}", true},
		{"parquet with nothing declared", "- {name: a, partition: {every: day}, output: {format: parquet}}", false},
		{"jsonl with nothing declared", "- {name: a, partition: {every: day}}", true},
		{"names collide", "- {name: a-b, partition: {every: day}}\n- {name: a_b, partition: {every: day}}", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "pipeline.yaml")
			writeFile(t, path, "version: 1\nsources:\n"+indent(tc.yaml))
			s := m.glueScope(t, path, "")
			ok := true
			for key, each := range instances(t, s, m.resource(t, "aws_glue_catalog_table.source")) {
				for _, lc := range blocksOf(m.resource(t, "aws_glue_catalog_table.source").Body, "lifecycle") {
					for _, p := range blocksOf(lc.Body, "precondition") {
						if !s.eval(t, attr(t, p.Body, "condition").Expr, key, each).True() {
							ok = false
						}
					}
				}
			}
			if ok != tc.ok {
				t.Errorf("preconditions hold: %v, want %v", ok, tc.ok)
			}
		})
	}
}

// glueScope is the module's scope for pipeline config cfg and data key
// prefix, with the locals that need the bucket's name (account
// 123456789012).
func (m *module) glueScope(t *testing.T, cfg, prefix string) *scope {
	t.Helper()
	s := m.newScope(t, map[string]cty.Value{
		"pipeline_config_file": cty.StringVal(cfg),
		"data_key_prefix":      cty.StringVal(prefix),
	})
	ctx := s.ctx(nil)
	ctx.Variables["data"] = cty.ObjectVal(map[string]cty.Value{"aws_caller_identity": cty.ObjectVal(map[string]cty.Value{
		"current": cty.ObjectVal(map[string]cty.Value{"account_id": cty.StringVal("123456789012")}),
	})})
	for _, name := range []string{"bucket_name", "glue_pointer_prefix"} {
		v, diags := m.locals[name].Expr.Value(ctx)
		if diags.HasErrors() {
			t.Fatalf("local.%s: %s", name, diags.Error())
		}
		s.locals[name] = v
		ctx = s.ctx(nil)
		ctx.Variables["data"] = cty.EmptyObjectVal
	}
	s.local(t, "glue_tables")
	return s
}

// glueTable is one table as the module defines it.
type glueTable struct {
	name, tableType, location, inputFormat, outputFormat, serde string
	parameters, serdeParameters                                 map[string]string
	partitionKeys                                               []string
	columns                                                     []glueColumn
}

type glueColumn struct{ Name, Type string }

// glueTables evaluates aws_glue_catalog_table.source for every key.
func (m *module) glueTables(t *testing.T, s *scope) map[string]glueTable {
	t.Helper()
	b := m.resource(t, "aws_glue_catalog_table.source")
	out := map[string]glueTable{}
	for key, each := range instances(t, s, b) {
		str := func(body *hclsyntax.Body, name string) string {
			return s.eval(t, attr(t, body, name).Expr, key, each).AsString()
		}
		strMap := func(body *hclsyntax.Body, name string) map[string]string {
			v := s.eval(t, attr(t, body, name).Expr, key, each)
			out := map[string]string{}
			for it := v.ElementIterator(); it.Next(); {
				k, e := it.Element()
				out[k.AsString()] = e.AsString()
			}
			return out
		}
		sd := oneBlock(t, b.Body, "storage_descriptor")
		serde := oneBlock(t, sd, "ser_de_info")
		tb := glueTable{
			name:            str(b.Body, "name"),
			tableType:       str(b.Body, "table_type"),
			parameters:      strMap(b.Body, "parameters"),
			location:        str(sd, "location"),
			inputFormat:     str(sd, "input_format"),
			outputFormat:    str(sd, "output_format"),
			serde:           str(serde, "serialization_library"),
			serdeParameters: strMap(serde, "parameters"),
		}
		for _, pk := range s.blockAttrs(t, b.Body, "partition_keys", key, each) {
			tb.partitionKeys = append(tb.partitionKeys, pk["name"].AsString()+" "+pk["type"].AsString())
		}
		for _, c := range s.blockAttrs(t, sd, "columns", key, each) {
			tb.columns = append(tb.columns, glueColumn{Name: c["name"].AsString(), Type: c["type"].AsString()})
		}
		out[key] = tb
	}
	return out
}

// checkGlueTable checks tb, the table of src, for a data bucket at bucket
// (s3://<name>/) and data key prefix.
func checkGlueTable(t *testing.T, src pipeline.Source, bucket, prefix string, tb glueTable) {
	t.Helper()
	hourly := src.Partition.Every == pipeline.Hour
	if want := strings.ReplaceAll(src.Name, "-", "_"); tb.name != want {
		t.Errorf("%s: table %q, want %q", src.Name, tb.name, want)
	}
	if tb.tableType != "EXTERNAL_TABLE" || tb.parameters["EXTERNAL"] != "TRUE" {
		t.Errorf("%s: table type %q, EXTERNAL %q; want an external table", src.Name, tb.tableType, tb.parameters["EXTERNAL"])
	}
	if tb.inputFormat != symlinkInputFormat || tb.outputFormat != textOutputFormat {
		t.Errorf("%s: formats %s / %s, want %s / %s", src.Name, tb.inputFormat, tb.outputFormat, symlinkInputFormat, textOutputFormat)
	}
	// The pointers' layout, from the code that writes them.
	layout := sink.NewLayout(prefix)
	hive := "dt=${dt}"
	if hourly {
		hive += "/hr=${hr}"
	}
	pointer := layout.PointerKey(sink.Partition{Source: src.Name, Hive: hive})
	if want := bucket + strings.TrimSuffix(pointer, "symlink.txt"); tb.parameters["storage.location.template"] != want {
		t.Errorf("%s: storage.location.template %q, want the pointers' folder %q", src.Name, tb.parameters["storage.location.template"], want)
	}
	if !strings.HasPrefix(tb.parameters["storage.location.template"], tb.location) || !strings.HasSuffix(tb.location, "/") {
		t.Errorf("%s: location %q is not the folder above the template %q", src.Name, tb.location, tb.parameters["storage.location.template"])
	}
	start := defaultProjectionStart
	if !src.Partition.Start.IsZero() {
		start = src.Partition.Start.Format("2006-01-02")
	}
	want := map[string]string{
		"projection.enabled":          "true",
		"projection.dt.type":          "date",
		"projection.dt.format":        "yyyy-MM-dd",
		"projection.dt.range":         start + ",NOW",
		"projection.dt.interval":      "1",
		"projection.dt.interval.unit": "DAYS",
	}
	keys := []string{"dt string"}
	if hourly {
		want["projection.hr.type"] = "integer"
		want["projection.hr.range"] = "0,23"
		want["projection.hr.digits"] = "2"
		keys = append(keys, "hr string")
	}
	for k, v := range want {
		if tb.parameters[k] != v {
			t.Errorf("%s: %s = %q, want %q", src.Name, k, tb.parameters[k], v)
		}
	}
	for k := range tb.parameters {
		if strings.HasPrefix(k, "projection.") && want[k] == "" {
			t.Errorf("%s: unexpected %s = %q", src.Name, k, tb.parameters[k])
		}
	}
	if !slices.Equal(tb.partitionKeys, keys) {
		t.Errorf("%s: partition keys %v, want %v", src.Name, tb.partitionKeys, keys)
	}
	// Every partition column is in the template, or Athena refuses the
	// table (INVALID_TABLE_PROPERTY).
	for _, k := range keys {
		if name := strings.Fields(k)[0]; !strings.Contains(tb.parameters["storage.location.template"], "${"+name+"}") {
			t.Errorf("%s: storage.location.template has no ${%s}", src.Name, name)
		}
	}
	cols, declared := declaredColumns(src.Output)
	wantSerde, wantParams := jsonSerDe, map[string]string{"case.insensitive": "false"}
	switch {
	case src.Output.Format == pipeline.Parquet:
		wantSerde, wantParams = parquetSerDe, map[string]string{"serialization.format": "1"}
	case !declared:
		wantSerde, wantParams = lineSerDe, map[string]string{"serialization.format": "1", "field.delim": "\x01"}
		cols = []glueColumn{{Name: lineColumn, Type: "string"}}
	default:
		for _, c := range src.Output.Columns {
			if c.Path != c.Name {
				wantParams["mapping."+c.Name] = c.Path
			}
		}
	}
	if tb.serde != wantSerde || !maps.Equal(tb.serdeParameters, wantParams) {
		t.Errorf("%s (%s): SerDe %s %v, want %s %v", src.Name, src.Output.Format, tb.serde, tb.serdeParameters, wantSerde, wantParams)
	}
	if !slices.Equal(tb.columns, cols) {
		t.Errorf("%s: columns %v, want %v", src.Name, tb.columns, cols)
	}
}

// instances evaluates b's for_each.
func instances(t *testing.T, s *scope, b *hclsyntax.Block) map[string]cty.Value {
	t.Helper()
	v := s.eval(t, attr(t, b.Body, "for_each").Expr, "", cty.NilVal)
	out := map[string]cty.Value{}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		out[k.AsString()] = e
	}
	return out
}

// blockAttrs evaluates the attributes of every block of type typ in body,
// the static ones and those a dynamic block makes, in order.
func (s *scope) blockAttrs(t *testing.T, body *hclsyntax.Body, typ, key string, each cty.Value) []map[string]cty.Value {
	t.Helper()
	var out []map[string]cty.Value
	evalBody := func(b *hclsyntax.Body, iter map[string]cty.Value) map[string]cty.Value {
		ctx := s.ctx(map[string]cty.Value{"key": cty.StringVal(key), "value": each})
		for k, v := range iter {
			ctx.Variables[k] = v
		}
		attrs := map[string]cty.Value{}
		for name, a := range b.Attributes {
			v, diags := a.Expr.Value(ctx)
			if diags.HasErrors() {
				t.Fatalf("%s: %s", a.SrcRange, diags.Error())
			}
			attrs[name] = v
		}
		return attrs
	}
	for _, b := range body.Blocks {
		switch {
		case b.Type == typ:
			out = append(out, evalBody(b.Body, nil))
		case b.Type == "dynamic" && len(b.Labels) == 1 && b.Labels[0] == typ:
			items := s.eval(t, attr(t, b.Body, "for_each").Expr, key, each)
			content := oneBlock(t, b.Body, "content")
			for it := items.ElementIterator(); it.Next(); {
				k, v := it.Element()
				out = append(out, evalBody(content, map[string]cty.Value{typ: cty.ObjectVal(map[string]cty.Value{"key": k, "value": v})}))
			}
		}
	}
	return out
}

func oneBlock(t *testing.T, body *hclsyntax.Body, typ string) *hclsyntax.Body {
	t.Helper()
	bs := blocksOf(body, typ)
	if len(bs) != 1 {
		t.Fatalf("%d %s blocks, want 1", len(bs), typ)
	}
	return bs[0].Body
}

func sourceNames(c *pipeline.Config) []string {
	var out []string
	for _, s := range c.Sources {
		out = append(out, s.Name)
	}
	slices.Sort(out)
	return out
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func indent(s string) string { return "  " + strings.ReplaceAll(s, "\n", "\n  ") + "\n" }
