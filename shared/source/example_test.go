package source_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/sluice-data/sluice/scripts/demoapi"
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

// A fetch that must stop early (a Lambda about to time out) keeps the Next
// of the last page it handled, and a later fetch goes on from there.
func ExampleClient_FetchFrom() {
	demo := demoapi.New(demoapi.Options{Sources: map[string]demoapi.SourceOptions{"events": {Style: demoapi.NextURL}}})
	api := httptest.NewServer(demo)
	defer api.Close()
	cfg, err := pipeline.Parse("demo.yaml", []byte(demo.PipelineYAML(api.URL, nil)))
	if err != nil {
		fmt.Println(err)
		return
	}
	src, _ := cfg.Source("events")
	w, _ := src.Partition.Window(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	client := source.New(nil)

	var checkpoint []byte
	stop := errors.New("out of time")
	err = client.Fetch(context.Background(), src, w, func(ctx context.Context, p source.Page) error {
		fmt.Printf("page %d: %d records\n", p.Number, len(p.Records))
		checkpoint, _ = json.Marshal(p.Next)
		return stop // after the first page
	})
	fmt.Println("err:", err)

	var from source.State
	_ = json.Unmarshal(checkpoint, &from)
	err = client.FetchFrom(context.Background(), src, w, &from, func(ctx context.Context, p source.Page) error {
		fmt.Printf("page %d: %d records, last: %v\n", p.Number, len(p.Records), p.Next == nil)
		return nil
	})
	fmt.Println("err:", err)
	// Output:
	// page 0: 100 records
	// err: out of time
	// page 1: 100 records, last: false
	// page 2: 50 records, last: true
	// err: <nil>
}
