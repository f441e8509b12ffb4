package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/pipeline"
)

// pagedAPI serves records 0..total-1 by page number (?page=, from 1) or by
// offset (?offset=&limit=), with total_pages and total in every body. It
// counts requests per page and the most requests it had in flight at once.
type pagedAPI struct {
	total, size int
	// short, if set, is how many records each page actually holds, by
	// 0-based page index (an API whose pages vary in size).
	short map[int]int
	// fail answers the page at this 0-based index with this status.
	fail map[int]int
	// delay is added to every response, so that requests overlap.
	delay time.Duration
	// hang, if > 0, makes pages from this 0-based index on wait until
	// their request is cancelled.
	hang int

	mu        sync.Mutex
	inFlight  int
	peak      int
	requests  map[int]int // by first record index
	cancelled int         // hanging requests whose client went away
}

func (a *pagedAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	size := a.size
	var from, index int
	if p := q.Get("page"); p != "" {
		n, _ := strconv.Atoi(p)
		index = n - 1
		from = index * size
	} else {
		from, _ = strconv.Atoi(q.Get("offset"))
		if l := q.Get("limit"); l != "" {
			size, _ = strconv.Atoi(l)
		}
		index = from / max(a.size, 1)
	}
	a.mu.Lock()
	if a.requests == nil {
		a.requests = map[int]int{}
	}
	a.requests[from]++
	a.inFlight++
	a.peak = max(a.peak, a.inFlight)
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.inFlight--
		a.mu.Unlock()
	}()

	if a.hang > 0 && index >= a.hang {
		<-r.Context().Done()
		a.mu.Lock()
		a.cancelled++
		a.mu.Unlock()
		return
	}
	if a.delay > 0 {
		time.Sleep(a.delay)
	}
	if code := a.fail[index]; code != 0 {
		http.Error(w, `{"error":"injected"}`, code)
		return
	}
	n := size
	if s, ok := a.short[index]; ok {
		n = s
	}
	var recs []string
	for i := from; i < min(from+n, a.total); i++ {
		recs = append(recs, fmt.Sprintf(`{"id":%d}`, i))
	}
	pages := (a.total + a.size - 1) / a.size
	fmt.Fprintf(w, `{"data":[%s],"total_pages":%d,"total":%d}`, strings.Join(recs, ","), pages, a.total)
}

func (a *pagedAPI) stats() (peak int, requests map[int]int, cancelled int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	rq := map[int]int{}
	for k, v := range a.requests {
		rq[k] = v
	}
	return a.peak, rq, a.cancelled
}

// pageShape is how a pagedAPI cuts its records.
type pageShape struct {
	total, size int
	short       map[int]int
}

// pagedStyles are the ways a source can know its pages in advance.
var pagedStyles = []struct{ name, pagination string }{
	{"page_number, total_pages_path", "{type: page_number, page_param: page, size_param: per_page, page_size: %d, total_pages_path: total_pages, concurrency: %d}"},
	{"page_number, total_path", "{type: page_number, page_param: page, size_param: per_page, page_size: %d, total_path: total, concurrency: %d}"},
	{"offset, total_path", "{type: offset, page_size: %d, total_path: total, concurrency: %d}"},
}

// pagedSource returns a source for a with the pagination of style.
func pagedSource(t *testing.T, url, pagination string, size, concurrency int) *pipeline.Source {
	t.Helper()
	y := fmt.Sprintf("version: 1\nsources:\n  - name: src\n    request: {base_url: %q, path: /v1/src}\n    pagination: %s\n    records: {path: data}\n    partition: {every: day}\n",
		url, fmt.Sprintf(pagination, size, concurrency))
	cfg, err := pipeline.Parse("paged.yaml", []byte(y))
	if err != nil {
		t.Fatalf("%v\n%s", err, y)
	}
	return &cfg.Sources[0]
}

// TestConcurrentWalkIsTheSerialWalk: for each style that knows its pages
// in advance, and for each way the pages can be cut, the concurrent walk
// hands over the very pages of the serial walk — numbers, records, bytes
// and Next States — from the first page and resumed from every page's
// Next, while it never has more than concurrency requests in flight.
func TestConcurrentWalkIsTheSerialWalk(t *testing.T) {
	shapes := []struct {
		name         string
		api          pageShape
		concurrency  int
		wantParallel bool // the walk must have had more than one request in flight
	}{
		{"20 full pages", pageShape{total: 200, size: 10}, 4, true},
		{"a short last page", pageShape{total: 195, size: 10}, 3, true},
		{"more concurrency than pages", pageShape{total: 30, size: 10}, 8, true},
		{"one page", pageShape{total: 7, size: 10}, 4, false},
		{"no records", pageShape{total: 0, size: 10}, 4, false},
		{"a page shorter than predicted mid-walk", pageShape{total: 200, size: 10, short: map[int]int{5: 4}}, 4, true},
		{"concurrency 1", pageShape{total: 100, size: 10}, 1, false},
	}
	for _, style := range pagedStyles {
		for _, sh := range shapes {
			t.Run(style.name+"/"+sh.name, func(t *testing.T) {
				serialAPI := &pagedAPI{total: sh.api.total, size: sh.api.size, short: sh.api.short}
				serialSrv := httptest.NewServer(serialAPI)
				defer serialSrv.Close()
				want, err := walk(context.Background(), testClient(), pagedSource(t, serialSrv.URL, style.pagination, sh.api.size, 1), nil)
				if err != nil {
					t.Fatalf("serial walk: %v", err)
				}
				if peak, _, _ := serialAPI.stats(); peak != 1 {
					t.Fatalf("serial walk had %d requests in flight", peak)
				}

				api := &pagedAPI{total: sh.api.total, size: sh.api.size, short: sh.api.short, delay: 5 * time.Millisecond}
				srv := httptest.NewServer(api)
				defer srv.Close()
				src := pagedSource(t, srv.URL, style.pagination, sh.api.size, sh.concurrency)
				got, err := walk(context.Background(), testClient(), src, nil)
				if err != nil {
					t.Fatalf("concurrent walk: %v", err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("concurrent walk:\n got %d pages %v\nwant %d pages %v", len(got), states(got), len(want), states(want))
				}
				peak, requests, _ := api.stats()
				if peak > sh.concurrency {
					t.Errorf("%d requests in flight at once, concurrency %d", peak, sh.concurrency)
				}
				if sh.wantParallel && peak < 2 {
					t.Errorf("%d requests in flight at once: the walk was serial", peak)
				}
				if sh.api.short == nil {
					for from, n := range requests {
						if n != 1 {
							t.Errorf("records from %d requested %d times", from, n)
						}
					}
					if len(requests) != len(want) {
						t.Errorf("%d requests, want %d (one per page)", len(requests), len(want))
					}
				}

				for k, p := range want {
					if p.Next == nil {
						continue
					}
					raw, _ := json.Marshal(p.Next)
					var st State
					if err := json.Unmarshal(raw, &st); err != nil {
						t.Fatal(err)
					}
					rest, err := walk(context.Background(), testClient(), src, &st)
					if err != nil {
						t.Fatalf("resume after page %d: %v", k, err)
					}
					if !reflect.DeepEqual(rest, want[k+1:]) {
						t.Fatalf("resume after page %d from %s:\n got %v\nwant %v", k, raw, states(rest), states(want[k+1:]))
					}
				}
			})
		}
	}
}

func states(pages []Page) []string {
	var s []string
	for _, p := range pages {
		s = append(s, fmt.Sprintf("%d:%d recs→%+v", p.Number, len(p.Records), p.Next))
	}
	return s
}

// TestConcurrentWalkErrors: an error on page k comes back only after
// pages 0..k-1 were handed over, in order, and with the class the serial
// walk gives it; pages fetched ahead of it are dropped.
func TestConcurrentWalkErrors(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		permanent bool
	}{
		{"permanent: 404", http.StatusNotFound, true},
		{"retryable: 500 on every attempt", http.StatusInternalServerError, false},
	}
	for _, style := range pagedStyles {
		for _, tt := range tests {
			t.Run(style.name+"/"+tt.name, func(t *testing.T) {
				const failAt = 6
				api := &pagedAPI{total: 200, size: 10, fail: map[int]int{failAt: tt.status}, delay: time.Millisecond}
				srv := httptest.NewServer(api)
				defer srv.Close()
				src := pagedSource(t, srv.URL, style.pagination, 10, 4)
				pages, err := walk(context.Background(), testClient(), src, nil)
				if err == nil {
					t.Fatal("walk = nil, want the error of page 6")
				}
				if got := numbers(pages); !reflect.DeepEqual(got, []int{0, 1, 2, 3, 4, 5}) {
					t.Errorf("pages handed over %v, want 0..5", got)
				}
				if fault.IsPermanent(err) != tt.permanent {
					t.Errorf("error %v: permanent %v, want %v", err, fault.IsPermanent(err), tt.permanent)
				}
				if !strings.Contains(err.Error(), "page 6") {
					t.Errorf("error %q does not name page 6", err)
				}
				var se *StatusError
				if !errors.As(err, &se) || se.StatusCode != tt.status {
					t.Errorf("error %v: want a StatusError %d", err, tt.status)
				}
				if peak, _, _ := api.stats(); peak > 4 {
					t.Errorf("%d requests in flight at once, concurrency 4", peak)
				}
			})
		}
	}
}

// TestConcurrentWalkStops: when the walk stops — its callback refuses a
// page, or its context ends — the requests in flight ahead of it are
// cancelled before FetchFrom returns, and no page after the stop is
// handed over.
func TestConcurrentWalkStops(t *testing.T) {
	stop := errors.New("hand over")
	tests := []struct {
		name    string
		handle  func(cancel context.CancelFunc, p Page) error
		wantErr func(error) bool
		pages   []int
	}{
		{"the callback refuses page 1",
			func(_ context.CancelFunc, p Page) error {
				if p.Number == 1 {
					return stop
				}
				return nil
			},
			func(err error) bool { return err == stop }, []int{0, 1}},
		{"the context ends after page 1",
			func(cancel context.CancelFunc, p Page) error {
				if p.Number == 1 {
					cancel()
				}
				return nil
			},
			func(err error) bool { return errors.Is(err, context.Canceled) && !fault.IsPermanent(err) }, []int{0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Pages 0..2 answer; from page 3 on the API hangs until the
			// client goes away, so only cancelling ends the walk.
			api := &pagedAPI{total: 200, size: 10, hang: 3}
			srv := httptest.NewServer(api)
			defer srv.Close()
			src := pagedSource(t, srv.URL, pagedStyles[0].pagination, 10, 4)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var seen []int
			done := make(chan error, 1)
			go func() {
				done <- testClient().FetchFrom(ctx, src, window(t), nil, func(_ context.Context, p Page) error {
					seen = append(seen, p.Number)
					if p.Number == 1 {
						// Let the read-ahead reach the hanging pages first.
						waitFor(t, 5*time.Second, "requests of the hanging pages", func() bool {
							_, rq, _ := api.stats()
							return len(rq) >= 4
						})
					}
					return tt.handle(cancel, p)
				})
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("FetchFrom did not return: the requests in flight were not cancelled")
			}
			if !tt.wantErr(err) {
				t.Errorf("FetchFrom = %v", err)
			}
			if !reflect.DeepEqual(seen, tt.pages) {
				t.Errorf("pages handed over %v, want %v", seen, tt.pages)
			}
			// The requests ahead gave up before FetchFrom returned; the
			// server sees its client go a moment later.
			hanging := func() (sent, cancelled int) {
				_, rq, c := api.stats()
				for from := range rq {
					if from >= 30 {
						sent++
					}
				}
				return sent, c
			}
			if sent, _ := hanging(); sent == 0 {
				t.Fatal("no request reached the hanging pages")
			}
			waitFor(t, 5*time.Second, "the server to see the hanging requests cancelled", func() bool {
				sent, c := hanging()
				return c == sent
			})
		})
	}
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting %s for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestConcurrentWalkRateLimit: every request of the concurrent walk takes
// its token from the source's rate limiter, so concurrency never lets it
// go faster than rate_limit. The client's Sleep records the waits instead
// of waiting; at 1 request/s with a burst of 2, the 20 requests of a
// 20-page walk reserve times up to 18 s ahead, one second apart.
func TestConcurrentWalkRateLimit(t *testing.T) {
	api := &pagedAPI{total: 200, size: 10, delay: 5 * time.Millisecond}
	srv := httptest.NewServer(api)
	defer srv.Close()
	src := pagedSource(t, srv.URL, pagedStyles[0].pagination, 10, 8)
	src.RateLimit = pipeline.RateLimit{RequestsPerSecond: 1, Burst: 2}
	c, s := recordingClient()
	pages, err := walk(context.Background(), c, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != 20 {
		t.Fatalf("%d pages, want 20", len(pages))
	}
	if peak, _, _ := api.stats(); peak < 2 {
		t.Errorf("%d requests in flight at once: the walk was serial", peak)
	}
	waits := s.all()
	// The test runs in well under a second: at most one token comes back
	// meanwhile, so all but the burst and that one had to wait.
	if len(waits) < 20-2-1 {
		t.Fatalf("%d waits for the rate limit, want at least 17: %v", len(waits), waits)
	}
	longest := time.Duration(0)
	for _, w := range waits {
		longest = max(longest, w)
	}
	if longest < 17*time.Second {
		t.Errorf("longest wait %s, want about 18s: the requests did not all queue on the limiter", longest)
	}
}
