package source

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/shared/pipeline"
)

// demo is the demo API served for a test, with its config parsed.
type demo struct {
	api *demoapi.Server
	srv *httptest.Server
	cfg *pipeline.Config
}

func startDemo(t *testing.T, opts demoapi.Options) *demo {
	t.Helper()
	api := demoapi.New(opts)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	y := api.PipelineYAML(srv.URL, nil)
	cfg, err := pipeline.Parse("demo.yaml", []byte(y))
	if err != nil {
		t.Fatalf("%v\n%s", err, y)
	}
	return &demo{api: api, srv: srv, cfg: cfg}
}

func (d *demo) src(name string) *pipeline.Source {
	s, ok := d.cfg.Source(name)
	if !ok {
		panic("no source " + name)
	}
	return s
}

// walk fetches src for the test day from st (nil: the first page) and
// returns the pages handed over, as data (reflect.DeepEqual compares
// their records and states, not the buffers they are read into). They are
// not released: their records stay the API's.
func walk(ctx context.Context, c *Client, src *pipeline.Source, st *State) ([]Page, error) {
	w, err := pipeline.Partition{Every: pipeline.Day}.ParseKey(day)
	if err != nil {
		return nil, err
	}
	var pages []Page
	err = c.FetchFrom(ctx, src, w, st, func(_ context.Context, p Page) error {
		p.body = nil
		pages = append(pages, p)
		return nil
	})
	return pages, err
}

func allRecords(pages []Page) [][]byte {
	var recs [][]byte
	for _, p := range pages {
		recs = append(recs, p.Records...)
	}
	return recs
}

// assertRecords checks that got are exactly want, in order: every record
// once, byte for byte.
func assertRecords(t *testing.T, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("record %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
}

// styleCases covers every pagination style of the demo API, each way it
// can be configured and each way a walk can end.
var styleCases = []struct {
	name      string
	opts      demoapi.Options
	wantPages int
}{
	{"page_number with total_pages", styleOpts(demoapi.SourceOptions{Style: demoapi.PageNumber}), 3},
	{"page_number until an empty page", styleOpts(demoapi.SourceOptions{Style: demoapi.PageNumber, OmitTotal: true}), 4},
	{"page_number POST", styleOpts(demoapi.SourceOptions{Style: demoapi.PageNumber, Method: "POST"}), 3},
	{"page_number empty day", styleOpts(demoapi.SourceOptions{Style: demoapi.PageNumber, RecordsPerDay: -1}), 1},
	{"offset with total", styleOpts(demoapi.SourceOptions{Style: demoapi.Offset}), 3},
	{"offset with total, exact multiple", demoapi.Options{RecordsPerDay: 300, Sources: map[string]demoapi.SourceOptions{"src": {Style: demoapi.Offset}}}, 3},
	{"offset until an empty page", styleOpts(demoapi.SourceOptions{Style: demoapi.Offset, OmitTotal: true}), 4},
	{"offset POST", styleOpts(demoapi.SourceOptions{Style: demoapi.Offset, Method: "POST"}), 3},
	{"cursor", styleOpts(demoapi.SourceOptions{Style: demoapi.Cursor}), 3},
	{"cursor POST, {cursor} in the body", styleOpts(demoapi.SourceOptions{Style: demoapi.Cursor, Method: "POST"}), 3},
	{"cursor empty day", styleOpts(demoapi.SourceOptions{Style: demoapi.Cursor, RecordsPerDay: -1}), 1},
	{"next_url absolute", styleOpts(demoapi.SourceOptions{Style: demoapi.NextURL}), 3},
	{"next_url relative", styleOpts(demoapi.SourceOptions{Style: demoapi.NextURL, RelativeNext: true}), 3},
	{"next_url POST", styleOpts(demoapi.SourceOptions{Style: demoapi.NextURL, Method: "POST"}), 3},
	{"next_url one record a page", demoapi.Options{RecordsPerDay: 5, PageSize: 1, Sources: map[string]demoapi.SourceOptions{"src": {Style: demoapi.NextURL}}}, 5},
	{"link_header", styleOpts(demoapi.SourceOptions{Style: demoapi.LinkHeader}), 3},
	{"link_header POST", styleOpts(demoapi.SourceOptions{Style: demoapi.LinkHeader, Method: "POST"}), 3},
	{"link_header empty day", styleOpts(demoapi.SourceOptions{Style: demoapi.LinkHeader, RecordsPerDay: -1}), 1},
	{"none", styleOpts(demoapi.SourceOptions{Style: demoapi.NoPagination}), 1},
	{"none POST", styleOpts(demoapi.SourceOptions{Style: demoapi.NoPagination, Method: "POST"}), 1},
}

func styleOpts(so demoapi.SourceOptions) demoapi.Options {
	return demoapi.Options{Sources: map[string]demoapi.SourceOptions{"src": so}}
}

// TestFetchStyles walks each pagination style against the demo API: every
// record arrives exactly once, in order, as the API's ground truth has it.
func TestFetchStyles(t *testing.T) {
	for _, tt := range styleCases {
		t.Run(tt.name, func(t *testing.T) {
			d := startDemo(t, tt.opts)
			pages, err := walk(context.Background(), testClient(), d.src("src"), nil)
			if err != nil {
				t.Fatal(err)
			}
			assertRecords(t, allRecords(pages), d.api.RecordsFor("src", day))
			if len(pages) != tt.wantPages || d.api.Requests("src") != tt.wantPages {
				t.Errorf("%d pages, %d requests; want %d", len(pages), d.api.Requests("src"), tt.wantPages)
			}
			for i, p := range pages {
				if p.Number != i {
					t.Errorf("page %d has number %d", i, p.Number)
				}
				if last := i == len(pages)-1; (p.Next == nil) != last {
					t.Errorf("page %d: Next = %+v (last page: %v)", i, p.Next, last)
				}
			}
		})
	}
}

// TestFetchContinuation checks, for every style, that a walk resumed from
// the Next of any page — after a JSON round trip, as a checkpoint would be
// stored — hands over exactly the pages the uninterrupted walk did after
// it, with the same numbers, records and states, and nothing more.
func TestFetchContinuation(t *testing.T) {
	for _, tt := range styleCases {
		t.Run(tt.name, func(t *testing.T) {
			d := startDemo(t, tt.opts)
			src := d.src("src")
			full, err := walk(context.Background(), testClient(), src, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, p := range full {
				if p.Next == nil {
					continue
				}
				raw, err := json.Marshal(p.Next)
				if err != nil {
					t.Fatal(err)
				}
				var st State
				if err := json.Unmarshal(raw, &st); err != nil {
					t.Fatal(err)
				}
				before := d.api.Requests("src")
				rest, err := walk(context.Background(), testClient(), src, &st)
				if err != nil {
					t.Fatalf("resume after page %d from %s: %v", k, raw, err)
				}
				if !reflect.DeepEqual(rest, full[k+1:]) {
					t.Errorf("resume after page %d from %s:\n got %d pages %v\nwant %d pages %v", k, raw, len(rest), numbers(rest), len(full[k+1:]), numbers(full[k+1:]))
				}
				if n := d.api.Requests("src") - before; n != len(full)-k-1 {
					t.Errorf("resume after page %d: %d requests, want %d", k, n, len(full)-k-1)
				}
			}
		})
	}
}

func numbers(pages []Page) []int {
	var ns []int
	for _, p := range pages {
		ns = append(ns, p.Number)
	}
	return ns
}
