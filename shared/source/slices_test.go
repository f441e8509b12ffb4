package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/pipeline"
)

// slicedStyles are the paginations a sliced walk is tested with: the
// ones whose pages name the next (serial by nature) and those known in
// advance (read ahead within each slice).
var slicedStyles = []demoapi.SourceOptions{
	{Style: demoapi.Cursor},
	{Style: demoapi.NextURL},
	{Style: demoapi.LinkHeader},
	{Style: demoapi.Offset},
	{Style: demoapi.PageNumber},
	{Style: demoapi.Cursor, Method: "POST"},
}

// slicedDemo serves src, time-filtered and cut into slices a day, 600
// records in pages of 40.
func slicedDemo(t *testing.T, so demoapi.SourceOptions, slices int) (*demo, *pipeline.Source) {
	t.Helper()
	so.Slices = slices
	d := startDemo(t, demoapi.Options{RecordsPerDay: 600, PageSize: 40, Sources: map[string]demoapi.SourceOptions{"src": so}})
	src := d.src("src")
	if src.Partition.Slices != slices {
		t.Fatalf("the demo config has %d slices, want %d", src.Partition.Slices, slices)
	}
	return d, src
}

// slicedWalk walks src's test day from the slices from, keeping each
// slice's pages and the Slices a checkpoint after them would hold; stop,
// if set, ends the walk when it returns an error.
type slicedWalk struct {
	pages [][]Page // by slice
	state []Slice  // by slice: where each would resume
}

func newSlicedWalk(n int, from []Slice) *slicedWalk {
	w := &slicedWalk{pages: make([][]Page, n), state: make([]Slice, n)}
	copy(w.state, from)
	return w
}

func (sw *slicedWalk) run(ctx context.Context, c *Client, src *pipeline.Source, stop func(handed int) error) error {
	handed := 0
	w, err := pipeline.Partition{Every: pipeline.Day}.ParseKey(day)
	if err != nil {
		return err
	}
	return c.FetchSlices(ctx, src, w, sw.from(), func(_ context.Context, p Page) error {
		sw.pages[p.Slice] = append(sw.pages[p.Slice], p)
		sw.state[p.Slice] = Slice{Next: p.Next, Done: p.Next == nil}
		handed++
		if stop != nil {
			return stop(handed)
		}
		return nil
	})
}

// from is the checkpoint's slices after a JSON round trip, as a
// continuation reads them.
func (sw *slicedWalk) from() []Slice {
	b, err := json.Marshal(sw.state)
	if err != nil {
		panic(err)
	}
	var out []Slice
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

// assertSlices checks that each slice's pages hold exactly the records of
// its time range, in order, and that they cover the day.
func (sw *slicedWalk) assertSlices(t *testing.T, d *demo, src *pipeline.Source) {
	t.Helper()
	total := 0
	for i, s := range src.Partition.SlicesOf(window(t)) {
		assertRecords(t, allRecords(sw.pages[i]), d.api.RecordsBetween("src", s.Start, s.End))
		total += len(allRecords(sw.pages[i]))
		for j, p := range sw.pages[i] {
			if p.Slice != i || p.Number != j {
				t.Fatalf("slice %d page %d says slice %d page %d", i, j, p.Slice, p.Number)
			}
		}
	}
	if want := len(d.api.RecordsFor("src", day)); total != want {
		t.Fatalf("%d records over the slices, the day has %d", total, want)
	}
}

// Every record of the window arrives exactly once, in the slice of its
// time, in order within it, whatever the pagination and the slices.
func TestFetchSlicesDeliversTheWindowOnce(t *testing.T) {
	for _, so := range slicedStyles {
		for _, n := range []int{2, 4, 24} {
			t.Run(fmt.Sprintf("%s %s, %d slices", so.Style, so.Method, n), func(t *testing.T) {
				d, src := slicedDemo(t, so, n)
				sw := newSlicedWalk(n, nil)
				if err := sw.run(context.Background(), testClient(), src, nil); err != nil {
					t.Fatal(err)
				}
				sw.assertSlices(t, d, src)
				for i, s := range sw.state {
					if !s.Done {
						t.Errorf("slice %d not done after the walk", i)
					}
				}
			})
		}
	}
}

var errStop = errors.New("stop here")

// A walk stopped after every page and resumed from its checkpoint, read
// back from JSON, delivers the same records as one walk: each slice goes on
// from the Next of its last page handed over, and a slice done is not
// walked again.
func TestFetchSlicesResumesAtEveryPage(t *testing.T) {
	for _, so := range slicedStyles {
		t.Run(string(so.Style)+" "+so.Method, func(t *testing.T) {
			const n = 4
			d, src := slicedDemo(t, so, n)
			sw := newSlicedWalk(n, nil)
			c := testClient()
			for hop := 1; ; hop++ {
				if hop > 200 {
					t.Fatal("the walk never finished")
				}
				before := d.api.Requests("src")
				err := sw.run(context.Background(), c, src, func(int) error { return errStop })
				if err == nil {
					if got := d.api.Requests("src") - before; got != 0 {
						t.Fatalf("the last hop sent %d requests, with every slice done", got)
					}
					break
				}
				if !errors.Is(err, errStop) {
					t.Fatalf("hop %d: %v, want the callback's error as is", hop, err)
				}
			}
			sw.assertSlices(t, d, src)
		})
	}
}

// A permanent error in one slice fails the walk and names the slice; a
// stop of one slice (a Retry-After past max_retry_after) stops them all,
// retryable, and the walk resumed from what was handed over delivers the
// window once.
func TestFetchSlicesErrorInOneSlice(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		after     string
		permanent bool
		wantErr   string
	}{
		{"permanent", http.StatusForbidden, "", true, "slice 2 of 4 (2026-11-01T12:00:00Z/2026-11-01T18:00:00Z): source src page 1: status 403"},
		{"quota stop", http.StatusTooManyRequests, "3600", false, "the API asks to wait 1h0m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const n = 4
			so := demoapi.SourceOptions{Style: demoapi.Cursor, Slices: n}
			api := demoapi.New(demoapi.Options{RecordsPerDay: 600, PageSize: 40, Sources: map[string]demoapi.SourceOptions{"src": so}})
			third := fmt.Sprint(window(t).Start.Add(12 * time.Hour).Unix())
			var failing atomic.Bool
			failing.Store(true)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				// The second page of slice 2 fails.
				if failing.Load() && r.URL.Query().Get("since") == third && r.URL.Query().Get("cursor") != "" {
					if tt.after != "" {
						w.Header().Set("Retry-After", tt.after)
					}
					w.WriteHeader(tt.status)
					return
				}
				api.ServeHTTP(w, r)
			}))
			t.Cleanup(srv.Close)
			cfg, err := pipeline.Parse("demo.yaml", []byte(api.PipelineYAML(srv.URL, nil)))
			if err != nil {
				t.Fatal(err)
			}
			src, _ := cfg.Source("src")
			d := &demo{api: api, srv: srv, cfg: cfg}
			sw := newSlicedWalk(n, nil)
			err = sw.run(context.Background(), testClient(), src, nil)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || fault.IsPermanent(err) != tt.permanent {
				t.Fatalf("err = %v (permanent %v), want %q (permanent %v)", err, fault.IsPermanent(err), tt.wantErr, tt.permanent)
			}
			if len(sw.pages[2]) != 1 || sw.state[2].Done {
				t.Fatalf("slice 2 handed over %d pages (done %v), want its first only", len(sw.pages[2]), sw.state[2].Done)
			}
			if tt.permanent {
				return
			}
			if d, ok := fault.Delay(err); !ok || d != time.Hour {
				t.Fatalf("delay %v %v, want the API's hour", d, ok)
			}
			failing.Store(false)
			if err := sw.run(context.Background(), testClient(), src, nil); err != nil {
				t.Fatal(err)
			}
			sw.assertSlices(t, d, src)
		})
	}
}

// rate_limit bounds the requests of all slices together: one token bucket
// per source, shared by every slice's walk.
func TestFetchSlicesShareTheRateLimit(t *testing.T) {
	const n, rps = 8, 200
	d, src := slicedDemo(t, demoapi.SourceOptions{Style: demoapi.Cursor}, n)
	src.RateLimit = pipeline.RateLimit{RequestsPerSecond: rps, Burst: 1}
	c := New(d.srv.Client()) // real waits: the limiter's clock is the wall's
	began := time.Now()
	if err := newSlicedWalk(n, nil).run(context.Background(), c, src, nil); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(began)
	requests := d.api.Requests("src")
	// With one bucket, request k waits until (k-1)/rps; eight buckets
	// would let the slices go about eight times as fast.
	if least := time.Duration(requests-1) * time.Second / rps; elapsed < least*9/10 {
		t.Fatalf("%d requests in %v; rate_limit %d/s allows no fewer than %v", requests, elapsed, rps, least)
	}
}

// A checkpoint whose slices are not the config's cannot resume.
func TestFetchSlicesRefusesAnotherShape(t *testing.T) {
	_, src := slicedDemo(t, demoapi.SourceOptions{Style: demoapi.Cursor}, 4)
	err := testClient().FetchSlices(context.Background(), src, window(t), make([]Slice, 3), func(context.Context, Page) error { return nil })
	if !fault.IsPermanent(err) || !strings.Contains(err.Error(), "the checkpoint has 3 slices, partition.slices is 4") {
		t.Fatalf("err = %v", err)
	}
}

// When two slices stop at once, the stop that asks for a wait
// (fault.RetryAfter: a quota's hour) wins over a bare retryable stop (the
// fetcher's hand-over), so the retry waits as the API asks: here slice 0's
// callback stops the walk while slice 2's 429 has been answered, and the
// error returned is the 429's.
func TestFetchSlicesAWaitWinsOverABareStop(t *testing.T) {
	const n = 4
	so := demoapi.SourceOptions{Style: demoapi.Cursor, Slices: n}
	api := demoapi.New(demoapi.Options{RecordsPerDay: 600, PageSize: 40, Sources: map[string]demoapi.SourceOptions{"src": so}})
	third := fmt.Sprint(window(t).Start.Add(12 * time.Hour).Unix())
	handed, quota := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("since") == third {
			<-handed // slice 0's first page is in the callback
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusTooManyRequests)
			close(quota)
			return
		}
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	cfg, err := pipeline.Parse("demo.yaml", []byte(api.PipelineYAML(srv.URL, nil)))
	if err != nil {
		t.Fatal(err)
	}
	src, _ := cfg.Source("src")
	err = testClient().FetchSlices(context.Background(), src, window(t), nil, func(_ context.Context, p Page) error {
		if p.Slice != 0 || p.Number != 0 {
			return nil
		}
		close(handed)
		<-quota
		time.Sleep(100 * time.Millisecond) // slice 2's walk returns its stop and waits for the callback's turn
		return fault.Retryable(errStop)
	})
	if d, ok := fault.Delay(err); !ok || d != time.Hour || fault.IsPermanent(err) {
		t.Fatalf("err = %v (delay %v %v), want the 429's retryable stop asking for an hour", err, d, ok)
	}
}
