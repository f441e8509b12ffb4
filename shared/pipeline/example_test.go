package pipeline_test

import (
	"fmt"
	"time"

	"github.com/sluice-data/sluice/shared/pipeline"
)

func ExampleParse() {
	cfg, err := pipeline.Parse("pipeline.yaml", []byte(`
version: 1
sources:
  - name: orders
    request:
      base_url: http://127.0.0.1:48003
      path: /v1/orders
      query: {day: "{date}"}
    pagination: {type: page_number, total_pages_path: total_pages}
    records: {path: data}
    partition: {every: hour}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	src, _ := cfg.Source("orders")
	fmt.Println(src.Pagination.PageParam, src.Pagination.StartPage, src.Request.Timeout)

	from := time.Date(2026, 11, 1, 22, 30, 0, 0, time.UTC)
	for _, w := range src.Partition.Windows(from, from.Add(2*time.Hour)) {
		fmt.Println(src.Partition.Key(w), src.Partition.HivePath(w), w.Expand(src.Request.Query["day"]))
	}
	// Output:
	// page 1 30s
	// 2026-11-01T22 dt=2026-11-01/hr=22 2026-11-01
	// 2026-11-01T23 dt=2026-11-01/hr=23 2026-11-01
	// 2026-11-02T00 dt=2026-11-02/hr=00 2026-11-02
}

func ExampleParse_invalid() {
	_, err := pipeline.Parse("pipeline.yaml", []byte(`
version: 1
sources:
  - name: orders
    request: {base_url: "http://127.0.0.1:48003", path: /v1/orders}
    pagination: {type: page_number, total_pages: total_pages}
    partition: {every: day}
  - name: orders
    request: {base_url: "http://127.0.0.1:48003", path: /v1/orders}
    pagination: {type: pages}
    partition: {every: week}
`))
	fmt.Println(err)
	// Output:
	// pipeline.yaml: sources[0].pagination.total_pages: unknown field (known: type, page_param, start_page, total_pages_path, offset_param, total_path, size_param, page_size, cursor_param, cursor_path, next_url_path, max_pages, concurrency)
	// pipeline.yaml: sources[1].name: duplicate name "orders" (first at sources[0])
	// pipeline.yaml: sources[1].pagination.type: unknown type "pages" (want page_number, offset, cursor, next_url, link_header, none)
	// pipeline.yaml: sources[1].partition.every: unknown period "week" (want day, hour)
}

func ExampleVars() {
	w, _ := pipeline.Partition{Every: pipeline.Day}.ParseKey("2026-11-01")
	v := pipeline.Vars{Window: w, Page: 2, Limit: 100}
	fmt.Println(v.Expand("/v1/orders/{date:20060102}?from={start:unix}&to={end}&page={page}"))
	fmt.Println(v.ExpandJSON(`{"since": {start:unix_ms}, "day": {date}, "page": {page}, "cursor": {cursor}, "note": "day {date}"}`))
	// Output:
	// /v1/orders/20261101?from=1793491200&to=2026-11-02T00:00:00Z&page=2
	// {"since": 1793491200000, "day": "2026-11-01", "page": 2, "cursor": null, "note": "day 2026-11-01"}
}

func ExampleConfig_Admit() {
	cfg, err := pipeline.Parse("pipeline.yaml", []byte(`
version: 1
sources:
  - name: orders
    request: {base_url: "http://127.0.0.1:48003", path: /v1/orders}
    pagination: {type: none}
    partition: {every: day, lag: 2h, start: 2026-10-01}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Date(2026, 11, 2, 1, 0, 0, 0, time.UTC)
	for _, window := range []string{"2026-10-31", "2026-11-01", "2026-09-30"} {
		if _, _, err := cfg.Admit("orders", window, now); err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(window, "may be fetched")
	}
	// Output:
	// 2026-10-31 may be fetched
	// window not due yet: orders/2026-11-01 ends 2026-11-02T00:00:00Z and can be fetched from 2026-11-02T02:00:00Z (partition.lag 2h0m0s); it is now 2026-11-02T01:00:00Z
	// window before the source's start: orders/2026-09-30 is before the source's first window 2026-10-01 (partition.start)
}
