package schema

import (
	"fmt"

	"github.com/sluice-data/sluice/shared/pipeline"
)

// GlueColumn is a column as the Glue Data Catalog (and Athena's DDL) names
// it.
type GlueColumn struct {
	Name string
	Type string
}

// Glue returns the columns with their Hive/Glue types, in file order, the
// record column last: string, bigint, double, boolean, timestamp, date,
// decimal(p,s); json columns are string (read them with json_extract).
func (s Schema) Glue() []GlueColumn {
	out := make([]GlueColumn, 0, len(s.Columns)+1)
	for _, c := range s.Columns {
		out = append(out, GlueColumn{Name: c.Name, Type: GlueType(c.Type)})
	}
	if s.RecordColumn != "" {
		out = append(out, GlueColumn{Name: s.RecordColumn, Type: "string"})
	}
	return out
}

// GlueType is the Hive/Glue name of a column type.
func GlueType(t pipeline.ColumnType) string {
	switch t.Kind {
	case pipeline.KindInt64:
		return "bigint"
	case pipeline.KindFloat64:
		return "double"
	case pipeline.KindBool:
		return "boolean"
	case pipeline.KindTimestamp:
		return "timestamp"
	case pipeline.KindDate:
		return "date"
	case pipeline.KindDecimal:
		return fmt.Sprintf("decimal(%d,%d)", t.Precision, t.Scale)
	default: // string, json
		return "string"
	}
}
