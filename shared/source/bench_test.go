package source

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/shared/pipeline"
)

// The client's walk of a day against its floor: the same pages fetched by
// a bare loop of GETs that reads each body and splits its records with
// gjson, and nothing else (no retries, templates, rate limiter, auth,
// checks). Compare the two MB/s figures of one `make bench` run. The walk
// is serial (pagination.concurrency 1), as the floor is: the figure is the
// client's cost per page, not how well pages overlap on a loaded machine.

const benchRecords, benchPageSize = 20000, 1000

func benchAPI(b *testing.B) (*httptest.Server, *pipeline.Source, pipeline.Window) {
	b.Helper()
	api := demoapi.New(demoapi.Options{RecordsPerDay: benchRecords, PageSize: benchPageSize,
		Sources: map[string]demoapi.SourceOptions{"orders": {Style: demoapi.PageNumber}}})
	srv := httptest.NewServer(api)
	b.Cleanup(srv.Close)
	cfg, err := pipeline.Parse("bench.yaml", []byte(api.PipelineYAML(srv.URL, nil)))
	if err != nil {
		b.Fatal(err)
	}
	src, _ := cfg.Source("orders")
	src.Pagination.Concurrency = 1
	w, err := src.Partition.ParseKey("2026-11-01")
	if err != nil {
		b.Fatal(err)
	}
	return srv, src, w
}

func BenchmarkClientWalk(b *testing.B) {
	srv, src, w := benchAPI(b)
	c := New(srv.Client())
	var size int64
	b.ReportAllocs()
	for b.Loop() {
		size = 0
		records := 0
		err := c.Fetch(context.Background(), src, w, func(_ context.Context, p Page) error {
			size += int64(p.Bytes)
			records += len(p.Records)
			p.Release() // as the fetcher's packer does
			return nil
		})
		if err != nil || records != benchRecords {
			b.Fatalf("walk: %d records, %v", records, err)
		}
	}
	b.SetBytes(size)
}

func BenchmarkBaselineBareGets(b *testing.B) {
	srv, _, _ := benchAPI(b)
	h := srv.Client()
	var size int64
	b.ReportAllocs()
	for b.Loop() {
		size = 0
		records := 0
		for page := 1; ; page++ {
			resp, err := h.Get(fmt.Sprintf("%s/v1/orders?day=2026-11-01&page=%d&per_page=%d", srv.URL, page, benchPageSize))
			if err != nil {
				b.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatalf("page %d: %d %v", page, resp.StatusCode, err)
			}
			size += int64(len(body))
			n := 0
			gjson.GetBytes(body, "data").ForEach(func(_, v gjson.Result) bool {
				_ = []byte(v.Raw)
				n++
				return true
			})
			records += n
			if n == 0 || records >= benchRecords {
				break
			}
		}
		if records != benchRecords {
			b.Fatalf("%d records", records)
		}
	}
	b.SetBytes(size)
}

// BenchmarkRecords is the checking and extraction of one page's records
// alone, as each attempt does it: a demo API page of 1,000 records (about
// 350 KB), read in one pass (scanRecords); /general is the way any body is
// read (utf8.Valid, gjson.ValidBytes, then gjson's walk to the records).
func BenchmarkRecords(b *testing.B) {
	srv, _, _ := benchAPI(b)
	resp, err := srv.Client().Get(fmt.Sprintf("%s/v1/orders?day=2026-11-01&page=1&per_page=%d", srv.URL, benchPageSize))
	if err != nil {
		b.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		b.Fatal(err)
	}
	for _, read := range []struct {
		name string
		f    func([]byte, string) ([][]byte, bool, error)
	}{{"scan", readRecords}, {"general", readRecordsGeneral}} {
		b.Run(read.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				recs, found, err := read.f(body, "data")
				if err != nil || !found || len(recs) != benchPageSize {
					b.Fatalf("%d records, found %v, %v", len(recs), found, err)
				}
			}
		})
	}
}

// A cursor window of an API that answers each page in 10 ms, walked whole
// (serial: each page names the next) and in 4 and 8 time slices at once.
// Compare the ns/op of one run: with pages this slow the sliced walks are
// bounded by the slowest slice's pages, not the window's.
func BenchmarkSlicedCursorWalk(b *testing.B) {
	const records, pageSize = 4000, 100
	for _, n := range []int{1, 4, 8} {
		b.Run(fmt.Sprintf("slices=%d", n), func(b *testing.B) {
			api := demoapi.New(demoapi.Options{RecordsPerDay: records, PageSize: pageSize,
				Sources: map[string]demoapi.SourceOptions{"orders": {Style: demoapi.Cursor, Slices: n, Delay: 10 * time.Millisecond}}})
			srv := httptest.NewServer(api)
			b.Cleanup(srv.Close)
			cfg, err := pipeline.Parse("bench.yaml", []byte(api.PipelineYAML(srv.URL, nil)))
			if err != nil {
				b.Fatal(err)
			}
			src, _ := cfg.Source("orders")
			w, _ := src.Partition.ParseKey("2026-11-01")
			c := New(srv.Client())
			var mu sync.Mutex
			for b.Loop() {
				got := 0
				count := func(_ context.Context, p Page) error {
					mu.Lock()
					got += len(p.Records)
					mu.Unlock()
					return nil
				}
				if n > 1 {
					err = c.FetchSlices(context.Background(), src, w, nil, count)
				} else {
					err = c.Fetch(context.Background(), src, w, count)
				}
				if err != nil || got != records {
					b.Fatalf("walk: %d records, %v", got, err)
				}
			}
		})
	}
}
