package infracheck

import (
	"os"
	"testing"

	"github.com/sluice-data/sluice/shared/pipeline"
)

// declaredColumns returns the Glue columns a source's output declares
// (the record column last), and false when it declares no columns.
// TODO(glue): schema.Declared(o).Glue() once shared/schema lands.
func declaredColumns(o pipeline.Output) ([]glueColumn, bool) {
	names := map[pipeline.Kind]string{
		pipeline.KindString: "string", pipeline.KindInt64: "bigint", pipeline.KindFloat64: "double", pipeline.KindBool: "boolean",
		pipeline.KindTimestamp: "timestamp", pipeline.KindDate: "date", pipeline.KindJSON: "string",
	}
	var out []glueColumn
	for _, c := range o.Columns {
		ty := names[c.Type.Kind]
		if c.Type.Kind == pipeline.KindDecimal {
			ty = c.Type.String()
		}
		out = append(out, glueColumn{Name: c.Name, Type: ty})
	}
	declared := len(out) > 0
	if o.RecordColumn != "" {
		out = append(out, glueColumn{Name: o.RecordColumn, Type: "string"})
	}
	return out, declared
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
