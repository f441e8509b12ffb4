package infracheck

import (
	"os"
	"testing"

	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/schema"
)

// declaredColumns returns the Glue columns of the schema a source's output
// declares (the record column last), as the code derives them, and false
// when it declares no columns.
func declaredColumns(o pipeline.Output) ([]glueColumn, bool) {
	s, ok := schema.Declared(o)
	var out []glueColumn
	for _, c := range s.Glue() {
		out = append(out, glueColumn{Name: c.Name, Type: c.Type})
	}
	return out, ok
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
