package infracheck

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/shared/pipeline"
)

// TestPlanGlueTables: in each plan `make infra-plan` writes, every source
// of the pipeline file the plan read (<artifacts_dir>/pipeline.yaml) has
// its Glue table, and each table as the provider plans it passes the
// checks TestGlueTables makes of the HCL.
func TestPlanGlueTables(t *testing.T) {
	dir := os.Getenv("SLUICE_PLAN_DIR")
	if dir == "" {
		t.Skip("SLUICE_PLAN_DIR unset: `make infra-plan` plans infra/envs/example with the real AWS provider and runs this on the plans")
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no plan JSON in %s (%v)", dir, err)
	}
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".json"), func(t *testing.T) {
			p := loadPlanFile(t, path)
			artifacts, _ := p.vars["artifacts_dir"].(string)
			cfg, err := pipeline.Load(filepath.Join(artifacts, "pipeline.yaml"))
			if err != nil {
				t.Fatalf("the plan's pipeline file: %v", err)
			}
			prefix, _ := p.vars["data_key_prefix"].(string)
			var bucket string
			for _, b := range p.all("aws_s3_bucket") {
				if b.Name == "data" {
					bucket, _ = b.Values["bucket"].(string)
				}
			}
			if bucket == "" {
				t.Fatal("no planned data bucket name")
			}
			tables := map[string]glueTable{}
			for _, i := range p.all("aws_glue_catalog_table") {
				tables[i.Key] = plannedGlueTable(i)
			}
			if got, want := sortedKeys(tables), sourceNames(cfg); !slices.Equal(got, want) {
				t.Fatalf("tables for %v, want one per source %v", got, want)
			}
			for _, src := range cfg.Sources {
				checkGlueTable(t, src, "s3://"+bucket+"/", prefix, tables[src.Name])
			}
		})
	}
}

// plannedGlueTable reads a table from its planned values.
func plannedGlueTable(i *instance) glueTable {
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	strMap := func(v any) map[string]string {
		out := map[string]string{}
		m, _ := v.(map[string]any)
		for k, e := range m {
			out[k], _ = e.(string)
		}
		return out
	}
	first := func(v any) map[string]any {
		l, _ := v.([]any)
		if len(l) == 0 {
			return map[string]any{}
		}
		m, _ := l[0].(map[string]any)
		return m
	}
	each := func(v any, f func(map[string]any)) {
		l, _ := v.([]any)
		for _, e := range l {
			if m, ok := e.(map[string]any); ok {
				f(m)
			}
		}
	}
	sd := first(i.Values["storage_descriptor"])
	serde := first(sd["ser_de_info"])
	tb := glueTable{
		name:            str(i.Values, "name"),
		tableType:       str(i.Values, "table_type"),
		parameters:      strMap(i.Values["parameters"]),
		location:        str(sd, "location"),
		inputFormat:     str(sd, "input_format"),
		outputFormat:    str(sd, "output_format"),
		serde:           str(serde, "serialization_library"),
		serdeParameters: strMap(serde["parameters"]),
	}
	each(i.Values["partition_keys"], func(m map[string]any) { tb.partitionKeys = append(tb.partitionKeys, str(m, "name")+" "+str(m, "type")) })
	each(sd["columns"], func(m map[string]any) {
		tb.columns = append(tb.columns, glueColumn{Name: str(m, "name"), Type: str(m, "type")})
	})
	return tb
}
