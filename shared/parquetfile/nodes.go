package parquetfile

import (
	"slices"

	"github.com/parquet-go/parquet-go"

	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/schema"
)

// parquetSchema is the parquet schema of s: one optional leaf per column,
// in the schema's order, the record column last.
func parquetSchema(s schema.Schema) *parquet.Schema {
	g := orderedGroup{Group: parquet.Group{}, order: s.Names()}
	for _, c := range s.Columns {
		g.Group[c.Name] = parquet.Optional(leaf(c.Type))
	}
	if s.RecordColumn != "" {
		g.Group[s.RecordColumn] = parquet.Optional(parquet.JSON())
	}
	return parquet.NewSchema("sluice", g)
}

func leaf(t pipeline.ColumnType) parquet.Node {
	switch t.Kind {
	case pipeline.KindInt64:
		return parquet.Int(64)
	case pipeline.KindFloat64:
		return parquet.Leaf(parquet.DoubleType)
	case pipeline.KindBool:
		return parquet.Leaf(parquet.BooleanType)
	case pipeline.KindTimestamp:
		return parquet.Timestamp(parquet.Microsecond)
	case pipeline.KindDate:
		return parquet.Date()
	case pipeline.KindDecimal:
		return decimalNode(t.Precision, t.Scale)
	case pipeline.KindJSON:
		return parquet.JSON()
	default:
		return parquet.String()
	}
}

// orderedGroup is a parquet.Group whose fields come in the given order
// rather than sorted by name (parquet.Group's), so a file's columns are in
// the schema's order.
type orderedGroup struct {
	parquet.Group
	order []string
}

func (g orderedGroup) Fields() []parquet.Field {
	fields := g.Group.Fields()
	slices.SortStableFunc(fields, func(a, b parquet.Field) int {
		return slices.Index(g.order, a.Name()) - slices.Index(g.order, b.Name())
	})
	return fields
}
