package source

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-data/sluice/shared/pipeline"
)

// TestTransportKeepsConcurrentWalksConnections: workers walks at once,
// each with concurrency requests in flight, through NewTransport's pool,
// open about as many connections as they have requests in flight: each
// connection is kept and reused for a later page, rather than closed
// because the pool is full and another dialled. A quarter more (and 2) are
// allowed: a request that starts in the moment between a response read to
// its end and its connection back in the pool dials (usually 4, 12 and 40
// here, at most 43 in 120 runs). A pool of workers connections, as the
// fetcher had, opened 20, 53 and 146.
func TestTransportKeepsConcurrentWalksConnections(t *testing.T) {
	tests := []struct {
		name                 string
		workers, concurrency int
	}{
		{"one walk of 4", 1, 4},
		{"3 walks of 4", 3, 4},
		{"5 walks of 8", 5, 8},
		{"2 serial walks", 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &pagedAPI{total: 400, size: 10, delay: 2 * time.Millisecond}
			srv := httptest.NewUnstartedServer(api)
			var dialled atomic.Int64
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					dialled.Add(1)
				}
			}
			srv.Start()
			defer srv.Close()
			src := pagedSource(t, srv.URL, pagedStyles[0].pagination, api.size, tt.concurrency)
			// Another source with less concurrency: the pool is sized by
			// the highest.
			cfg := &pipeline.Config{Sources: []pipeline.Source{{Name: "other", Pagination: pipeline.Pagination{Concurrency: 1}}, *src}}
			tr := NewTransport(tt.workers, cfg)
			defer tr.CloseIdleConnections()
			c := New(&http.Client{Transport: tr})

			var wg sync.WaitGroup
			errs := make([]error, tt.workers)
			for i := range tt.workers {
				wg.Go(func() {
					pages, err := walk(context.Background(), c, src, nil)
					if err == nil && len(pages) != 40 {
						err = fmt.Errorf("%d pages, want 40", len(pages))
					}
					errs[i] = err
				})
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("walk %d: %v", i, err)
				}
			}
			needed := tt.workers * tt.concurrency
			if n, most := dialled.Load(), int64(needed+needed/4+2); n > most {
				t.Fatalf("%d connections opened for %d walks of %d requests at once (%d pages): want about %d, at most %d",
					n, tt.workers, tt.concurrency, tt.workers*40, needed, most)
			}
		})
	}
}

// The pool is sized by the source with the most requests in flight in one
// fetch, for each of the workers.
func TestIdleConnsPerHost(t *testing.T) {
	src := func(concurrency, slices int) pipeline.Source {
		return pipeline.Source{Pagination: pipeline.Pagination{Concurrency: concurrency}, Partition: pipeline.Partition{Slices: slices}}
	}
	tests := []struct {
		name    string
		workers int
		sources []pipeline.Source
		want    int
	}{
		{"serial walks", 5, []pipeline.Source{src(1, 0), src(1, 0)}, 5},
		{"the highest concurrency", 5, []pipeline.Source{src(1, 0), src(8, 0), src(4, 0)}, 40},
		{"a sliced source walks its slices at once", 5, []pipeline.Source{src(4, 0), src(2, 6)}, 60},
		{"sliced, serial", 2, []pipeline.Source{src(1, 4)}, 8},
		{"no sources", 3, nil, 3},
		{"zero workers", 0, []pipeline.Source{src(4, 0)}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IdleConnsPerHost(tt.workers, &pipeline.Config{Sources: tt.sources}); got != tt.want {
				t.Fatalf("IdleConnsPerHost = %d, want %d", got, tt.want)
			}
		})
	}
}
