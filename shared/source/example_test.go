package source_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/sluice-data/sluice/shared/demoapi"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/source"
)

func ExampleClient_Fetch() {
	api := httptest.NewServer(demoapi.New(demoapi.Options{}))
	defer api.Close()
	cfg, err := pipeline.Parse("demo.yaml", []byte(demoapi.PipelineYAML(api.URL, []string{"customers"})))
	if err != nil {
		fmt.Println(err)
		return
	}
	src, _ := cfg.Source("customers")
	w, _ := src.Partition.Window(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))

	err = source.New(nil).Fetch(context.Background(), src, w, func(ctx context.Context, p source.Page) error {
		fmt.Printf("page %d: %d records, first %.34s\n", p.Number, len(p.Records), p.Records[0])
		return nil
	})
	fmt.Println("err:", err)
	// Output:
	// page 0: 100 records, first {"id":"customers-2026-11-01-00000"
	// page 1: 100 records, first {"id":"customers-2026-11-01-00100"
	// page 2: 50 records, first {"id":"customers-2026-11-01-00200"
	// err: <nil>
}
