package schema_test

import (
	"fmt"

	"github.com/sluice-data/sluice/shared/schema"
)

// Inferring the columns of two records, then what a config and the
// catalog get from them.
func ExampleInferrer() {
	inf := schema.NewInferrer()
	for _, rec := range []string{
		`{"id":9007199254740993,"placedAt":"2024-01-02T03:04:05Z","total":12.5,"lines":[{"sku":"a"}]}`,
		`{"id":2,"placedAt":"2024-01-03T00:00:00Z","total":7,"coupon":"WINTER"}`,
	} {
		if err := inf.Add([]byte(rec)); err != nil {
			fmt.Println(err)
		}
	}
	s := inf.Schema().WithRecordColumn("record")
	fmt.Print(s.YAML())
	for _, c := range s.Glue() {
		fmt.Println(c.Name, c.Type)
	}
	// Output:
	// columns:
	//   - {name: id, type: int64}
	//   - {name: placedat, path: placedAt, type: timestamp, layout: rfc3339}
	//   - {name: total, type: float64}
	//   - {name: lines, type: json}
	//   - {name: coupon, type: string}
	// id bigint
	// placedat timestamp
	// total double
	// lines string
	// coupon string
	// record string
}
