package schema

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/sluice-data/sluice/shared/pipeline"
)

// YAML returns the columns as the block to paste under a source's output:
// in its config, one flow mapping per column, path only when it differs
// from the name, layout for timestamps. The record column is not in it
// (it is record_column:, beside columns:).
//
//	columns:
//	  - {name: id, type: int64}
//	  - {name: user_id, path: userId, type: string}
//	  - {name: total, type: "decimal(38,2)"}
func (s Schema) YAML() string {
	var b strings.Builder
	b.WriteString("columns:\n")
	for _, c := range s.Columns {
		b.WriteString("  - {name: ")
		b.WriteString(yamlScalar(c.Name))
		if c.Path != c.Name {
			b.WriteString(", path: ")
			b.WriteString(yamlScalar(c.Path))
		}
		b.WriteString(", type: ")
		b.WriteString(yamlScalar(c.Type.String()))
		if c.Type.Kind == pipeline.KindTimestamp {
			b.WriteString(", layout: ")
			b.WriteString(yamlScalar(c.Layout))
		}
		b.WriteString("}\n")
	}
	return b.String()
}

var plainYAML = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_\-]*$`)

// yamlScalar writes s plain when that is safe in a flow mapping, else
// double-quoted (YAML's double-quoted escapes include Go's \", \\, \n, \t,
// \xXX, \uXXXX and \UXXXXXXXX).
func yamlScalar(s string) string {
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "null", "y", "n":
		return strconv.Quote(s)
	}
	if plainYAML.MatchString(s) {
		return s
	}
	return strconv.Quote(s)
}
