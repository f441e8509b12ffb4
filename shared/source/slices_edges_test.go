package source

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/sluice-data/sluice/shared/pipeline"
)

// edgeAPI is a stub time-filtered API, cursor-paged, whose records sit on
// the edges of time slices: it serves the records whose created_at lies
// in [since, until), the half-open range partition.slices relies on.
type edgeAPI struct {
	created []int64 // unix seconds, in order; a record's id is its index
	size    int
}

func (a *edgeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	since, err1 := strconv.ParseInt(q.Get("since"), 10, 64)
	until, err2 := strconv.ParseInt(q.Get("until"), 10, 64)
	at, _ := strconv.Atoi(q.Get("cursor"))
	if err1 != nil || err2 != nil {
		http.Error(w, "since and until are required", http.StatusBadRequest)
		return
	}
	var ids []int
	for i, c := range a.created {
		if c >= since && c < until {
			ids = append(ids, i)
		}
	}
	page := ids[min(at, len(ids)):min(at+a.size, len(ids))]
	out := map[string]any{"data": []map[string]any{}, "next": nil}
	for _, i := range page {
		out["data"] = append(out["data"].([]map[string]any), map[string]any{"id": i, "created_at": a.created[i]})
	}
	if at+a.size < len(ids) {
		out["next"] = strconv.Itoa(at + a.size)
	}
	_ = json.NewEncoder(w).Encode(out)
}

// A record on a slice's edge — at its Start, or a second before its End —
// lands in that slice and in no other, for any number of slices, when the
// API filters [start, end) with {start:unix} and {end:unix}: every record
// of the window exactly once, and none of the instants just outside it
// (the second before midnight, the next midnight). The demo API's records
// almost never sit on an edge; these all do.
func TestFetchSlicesEdgesLandOnce(t *testing.T) {
	counts := []int{2, 3, 4, 5, 24, 32}
	w := window(t)
	day := int64(w.End.Sub(w.Start) / time.Second)
	edges := map[int64]bool{-1: true, day: true} // outside the window
	for _, n := range counts {
		for k := range int64(n) {
			edges[k*day/int64(n)] = true       // slice k's Start
			edges[(k+1)*day/int64(n)-1] = true // its End − 1s
		}
	}
	api := &edgeAPI{size: 3}
	for _, s := range slices.Sorted(func(yield func(int64) bool) {
		for e := range edges {
			if !yield(e) {
				return
			}
		}
	}) {
		api.created = append(api.created, w.Start.Unix()+s)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	for _, n := range counts {
		t.Run(fmt.Sprintf("%d slices", n), func(t *testing.T) {
			y := fmt.Sprintf(`version: 1
sources:
  - name: src
    request: {base_url: %q, path: /v1/src, query: {since: "{start:unix}", until: "{end:unix}"}}
    pagination: {type: cursor, cursor_param: cursor, cursor_path: next, size_param: limit, page_size: 3}
    records: {path: data}
    partition: {every: day, slices: %d}
`, srv.URL, n)
			cfg, err := pipeline.Parse("edges.yaml", []byte(y))
			if err != nil {
				t.Fatal(err)
			}
			src := &cfg.Sources[0]
			cuts := src.Partition.SlicesOf(w)
			seen := map[int]int{} // id: slice
			err = testClient().FetchSlices(context.Background(), src, w, nil, func(_ context.Context, p Page) error {
				for _, b := range p.Records {
					var r struct {
						ID        int   `json:"id"`
						CreatedAt int64 `json:"created_at"`
					}
					if err := json.Unmarshal(b, &r); err != nil {
						return err
					}
					if s, ok := seen[r.ID]; ok {
						return fmt.Errorf("record %d (created %d) in slice %d and again in slice %d", r.ID, r.CreatedAt, s, p.Slice)
					}
					seen[r.ID] = p.Slice
					if at := time.Unix(r.CreatedAt, 0); at.Before(cuts[p.Slice].Start) || !at.Before(cuts[p.Slice].End) {
						return fmt.Errorf("record created %v in slice %d %s", at.UTC(), p.Slice, cuts[p.Slice])
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for i, c := range api.created {
				_, ok := seen[i]
				if in := c >= w.Start.Unix() && c < w.End.Unix(); ok != in {
					t.Errorf("record %d created %v: delivered %v, in the window %v", i, time.Unix(c, 0).UTC(), ok, in)
				}
			}
			if len(seen) != len(api.created)-2 {
				t.Errorf("%d records delivered, want the %d in the window", len(seen), len(api.created)-2)
			}
		})
	}
}
