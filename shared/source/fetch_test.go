package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/pipeline"
)

const day = "2026-11-01"

func window(t *testing.T) pipeline.Window {
	t.Helper()
	w, err := pipeline.Partition{Every: pipeline.Day}.ParseKey(day)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// testClient retries without waiting: its Sleep only records the waits.
func testClient() *Client {
	c, _ := recordingClient()
	return c
}

// recordingClient returns a client whose Sleep records each wait instead
// of waiting (it still honours ctx).
func recordingClient() (*Client, *sleeper) {
	s := &sleeper{}
	c := New(nil)
	c.Backoff = time.Millisecond
	c.Sleep = s.sleep
	return c, s
}

type sleeper struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeper) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	return nil
}

func (s *sleeper) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// collect fetches src and returns the records of all pages, kept as the
// callback got them, and the page numbers seen.
func collect(ctx context.Context, c *Client, src *pipeline.Source, w pipeline.Window) ([][]byte, []int, error) {
	var recs [][]byte
	var pages []int
	err := c.Fetch(ctx, src, w, func(_ context.Context, p Page) error {
		recs = append(recs, p.Records...)
		pages = append(pages, p.Number)
		return nil
	})
	return recs, pages, err
}

func TestFetchDemoAPI(t *testing.T) {
	tests := []struct {
		name      string
		source    string
		opts      demoapi.Options
		wantPages int
	}{
		{"page_number with total_pages", "orders", demoapi.Options{}, 3},
		{"page_number until an empty page", "events", demoapi.Options{}, 4},
		{"cursor", "customers", demoapi.Options{}, 3},
		{"page_number exact multiple", "orders", demoapi.Options{RecordsPerDay: 300}, 3},
		{"cursor exact multiple", "customers", demoapi.Options{RecordsPerDay: 300}, 3},
		{"page_number one record per page", "orders", demoapi.Options{RecordsPerDay: 7, PageSize: 1}, 7},
		{"cursor big pages", "customers", demoapi.Options{RecordsPerDay: 2500, PageSize: 1000}, 3},
		{"empty day with total_pages", "orders", demoapi.Options{Sources: map[string]demoapi.SourceOptions{"orders": {RecordsPerDay: -1}}}, 1},
		{"empty day by cursor", "customers", demoapi.Options{Sources: map[string]demoapi.SourceOptions{"customers": {Style: demoapi.Cursor, RecordsPerDay: -1}}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := demoapi.New(tt.opts)
			srv := httptest.NewServer(api)
			defer srv.Close()
			cfg, err := pipeline.Parse("demo.yaml", []byte(api.PipelineYAML(srv.URL, []string{tt.source})))
			if err != nil {
				t.Fatal(err)
			}
			src, _ := cfg.Source(tt.source)

			got, pages, err := collect(context.Background(), testClient(), src, window(t))
			if err != nil {
				t.Fatal(err)
			}
			want := api.RecordsFor(tt.source, day)
			if len(got) != len(want) {
				t.Fatalf("got %d records, want %d", len(got), len(want))
			}
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("record %d:\n got %s\nwant %s", i, got[i], want[i])
				}
			}
			if len(pages) != tt.wantPages || api.Requests(tt.source) != tt.wantPages {
				t.Errorf("pages %v, %d requests; want %d", pages, api.Requests(tt.source), tt.wantPages)
			}
			for i, n := range pages {
				if n != i {
					t.Errorf("page numbers %v, want 0, 1, 2...", pages)
					break
				}
			}
		})
	}
}

// fakeAPI serves n records numbered from 0, paged by the query parameter
// "p" counted from start, size records a page, with an optional total.
func fakeAPI(n, size, start int, withTotal bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var p int
		fmt.Sscan(r.URL.Query().Get("p"), &p)
		from := min((p-start)*size, n)
		to := min(from+size, n)
		var b strings.Builder
		b.WriteString(`{"result":{"rows":[`)
		for i := from; i < to; i++ {
			if i > from {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"i":%d}`, i)
		}
		b.WriteString(`]}`)
		if withTotal {
			fmt.Fprintf(&b, `,"meta":{"pages":"%d"}`, (n+size-1)/size)
		}
		b.WriteString(`}`)
		io.WriteString(w, b.String())
	}
}

func TestFetchPaginationVariants(t *testing.T) {
	zeroBased := pipeline.Pagination{Type: pipeline.PageNumber, PageParam: "p", StartPage: 0, TotalPagesPath: "meta.pages"}
	tests := []struct {
		name      string
		handler   http.Handler
		pg        pipeline.Pagination
		path      string
		want      []string
		wantPages int
	}{
		{"zero-based pages, total as a string", fakeAPI(5, 2, 0, true), zeroBased, "result.rows",
			[]string{`{"i":0}`, `{"i":1}`, `{"i":2}`, `{"i":3}`, `{"i":4}`}, 3},
		{"total of zero pages", fakeAPI(0, 2, 0, true), zeroBased, "result.rows", nil, 1},
		{"no pagination, the body is the array", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, " [1, \"two\" ,{\"three\": [3]}]\n")
		}), pipeline.Pagination{Type: pipeline.NoPagination}, "@this", []string{`1`, `"two"`, `{"three": [3]}`}, 1},
		{"empty records path means the body", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `[]`)
		}), pipeline.Pagination{Type: pipeline.NoPagination}, "", nil, 1},
		{"numeric cursor", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Query().Get("after") {
			case "":
				io.WriteString(w, `{"items":["a"],"next":7}`)
			case "7":
				io.WriteString(w, `{"items":["b"],"next":null}`)
			default:
				http.Error(w, "bad cursor", 400)
			}
		}), pipeline.Pagination{Type: pipeline.Cursor, CursorParam: "after", CursorPath: "next"}, "items", []string{`"a"`, `"b"`}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			src := &pipeline.Source{Name: "fake", Request: pipeline.Request{BaseURL: srv.URL, Path: "/x"}, Pagination: tt.pg, Records: pipeline.Records{Path: tt.path}}
			got, pages, err := collect(context.Background(), testClient(), src, window(t))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			for i := range tt.want {
				if string(got[i]) != tt.want[i] {
					t.Errorf("record %d = %s, want %s", i, got[i], tt.want[i])
				}
			}
			if len(pages) != tt.wantPages {
				t.Errorf("%d pages, want %d", len(pages), tt.wantPages)
			}
		})
	}
}

// TestFetchRawPassThrough checks that records reach the callback byte for
// byte: no decoding, no re-encoding, and that one record's slice cannot
// overwrite the next.
func TestFetchRawPassThrough(t *testing.T) {
	want := []string{
		`12345678901234567890.123`,
		`{"n":12345678901234567890.123,"big":123456789012345678901234567890,"f":1e400}`,
		`{ "spaced" : [ 1 , 2 ] ,"k":"v" }`,
		`"caf\u00e9 \ud83d\ude80 \/ \"q\""`,
		`"Zoë 東京 🚀"`,
		`{"z":1,"a":2,"z":3}`,
		`null`,
	}
	body := "{\"data\": [\n  " + strings.Join(want, ",\n  ") + "\n]}"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) }))
	defer srv.Close()
	src := &pipeline.Source{Name: "raw", Request: pipeline.Request{BaseURL: srv.URL, Path: "/"},
		Pagination: pipeline.Pagination{Type: pipeline.NoPagination}, Records: pipeline.Records{Path: "data"}}

	var page Page
	err := testClient().Fetch(context.Background(), src, window(t), func(_ context.Context, p Page) error { page = p; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if page.Bytes != len(body) {
		t.Errorf("Bytes = %d, want %d", page.Bytes, len(body))
	}
	if len(page.Records) != len(want) {
		t.Fatalf("got %d records, want %d", len(page.Records), len(want))
	}
	for i := range want {
		if string(page.Records[i]) != want[i] {
			t.Errorf("record %d = %s, want %s", i, page.Records[i], want[i])
		}
	}
	_ = append(page.Records[0], "XXXX"...)
	if string(page.Records[1]) != want[1] {
		t.Errorf("appending to record 0 changed record 1: %s", page.Records[1])
	}
}

func TestFetchRequest(t *testing.T) {
	var mu sync.Mutex
	var uris []string
	var hdr http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		uris = append(uris, r.URL.RequestURI())
		hdr = r.Header.Clone()
		mu.Unlock()
		if r.URL.Query().Get("pg") == "2" {
			io.WriteString(w, `{"d":[]}`)
			return
		}
		io.WriteString(w, `{"d":[1]}`)
	}))
	defer srv.Close()
	w, err := pipeline.Partition{Every: pipeline.Hour}.ParseKey("2026-11-01T13")
	if err != nil {
		t.Fatal(err)
	}
	src := &pipeline.Source{
		Name: "req",
		Request: pipeline.Request{
			BaseURL: srv.URL + "/api/",
			Path:    "/v1/days/{date}",
			Query:   map[string]string{"from": "{start}", "to": "{end}", "q": "a b&c=d/é"},
			Headers: map[string]string{"Authorization": "Bearer s3cr3t", "Accept": "application/x-ndjson"},
		},
		Pagination: pipeline.Pagination{Type: pipeline.PageNumber, PageParam: "pg", StartPage: 1, SizeParam: "n", PageSize: 50},
		Records:    pipeline.Records{Path: "d"},
	}
	if _, _, err := collect(context.Background(), testClient(), src, w); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/api/v1/days/2026-11-01?from=2026-11-01T13%3A00%3A00Z&n=50&pg=1&q=a+b%26c%3Dd%2F%C3%A9&to=2026-11-01T14%3A00%3A00Z",
		"/api/v1/days/2026-11-01?from=2026-11-01T13%3A00%3A00Z&n=50&pg=2&q=a+b%26c%3Dd%2F%C3%A9&to=2026-11-01T14%3A00%3A00Z",
	}
	if strings.Join(uris, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(uris, "\n"), strings.Join(want, "\n"))
	}
	if hdr.Get("Authorization") != "Bearer s3cr3t" || hdr.Get("Accept") != "application/x-ndjson" || hdr.Get("User-Agent") != "sluice" {
		t.Errorf("headers = %v", hdr)
	}
}

// reply is one scripted response.
type reply struct {
	status int
	body   string
	header map[string]string
	delay  time.Duration
	short  bool // announce a longer body than sent
}

// script answers with replies in turn, repeating the last, and counts
// requests.
func script(replies ...reply) (http.Handler, *atomic.Int32) {
	var n atomic.Int32
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		rp := replies[min(i, len(replies)-1)]
		if rp.delay > 0 {
			select {
			case <-time.After(rp.delay):
			case <-r.Context().Done():
				return
			}
		}
		for k, v := range rp.header {
			w.Header().Set(k, v)
		}
		if rp.short {
			w.Header().Set("Content-Length", fmt.Sprint(len(rp.body)+100))
		}
		w.WriteHeader(orDefault(rp.status, 200))
		io.WriteString(w, rp.body)
	}), &n
}

// countingTransport counts the requests a client sends.
type countingTransport struct {
	next http.RoundTripper
	n    atomic.Int32
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

const okBody = `{"data":[{"id":1},{"id":2}]}`

func TestFetchFailures(t *testing.T) {
	type class int
	const (
		ok class = iota
		retryable
		permanent
	)
	long := strings.Repeat("x", 1000)
	tests := []struct {
		name         string
		replies      []reply
		pg           *pipeline.Pagination
		timeout      time.Duration
		wantClass    class
		wantRequests int
		wantErr      []string      // substrings of the error
		wantStatus   int           // of the *StatusError in the chain
		wantWait     time.Duration // one of the waits asked for
	}{
		{name: "500 then 200", replies: []reply{{status: 500}, {body: okBody}}, wantRequests: 2},
		{name: "always 500", replies: []reply{{status: 500, body: `{"error":"boom"}`}}, wantClass: retryable, wantRequests: 3,
			wantErr: []string{"source t page 0: gave up after 3 attempts: status 500 Internal Server Error: {\"error\":\"boom\"}"}, wantStatus: 500},
		{name: "502, 504 then 200", replies: []reply{{status: 502}, {status: 504}, {body: okBody}}, wantRequests: 3},
		{name: "408 then 200", replies: []reply{{status: 408}, {body: okBody}}, wantRequests: 2},
		{name: "429 without Retry-After then 200", replies: []reply{{status: 429}, {body: okBody}}, wantRequests: 2},
		{name: "429 with Retry-After 1 is waited out", replies: []reply{{status: 429, header: map[string]string{"Retry-After": "1"}}, {body: okBody}},
			wantRequests: 2, wantWait: time.Second},
		{name: "404 at once", replies: []reply{{status: 404, body: `{"error":"no such thing"}`}}, wantClass: permanent, wantRequests: 1,
			wantErr: []string{"status 404 Not Found: {\"error\":\"no such thing\"}"}, wantStatus: 404},
		{name: "400 keeps 256 bytes of the body", replies: []reply{{status: 400, body: "\n" + long}}, wantClass: permanent, wantRequests: 1,
			wantErr: []string{": " + strings.Repeat("x", 255)}, wantStatus: 400},
		{name: "401", replies: []reply{{status: 401}}, wantClass: permanent, wantRequests: 1, wantStatus: 401},
		{name: "invalid JSON then 200", replies: []reply{{body: `{"data":[1,`}, {body: okBody}}, wantRequests: 2},
		{name: "always invalid JSON", replies: []reply{{body: `<html>oops</html>`}}, wantClass: retryable, wantRequests: 3,
			wantErr: []string{"body is not valid JSON"}},
		{name: "invalid UTF-8", replies: []reply{{body: "{\"data\":[\"\xff\"]}"}}, wantClass: retryable, wantRequests: 3,
			wantErr: []string{"not valid UTF-8"}},
		{name: "truncated body then 200", replies: []reply{{body: okBody, short: true}, {body: okBody}}, wantRequests: 2},
		{name: "timeout", replies: []reply{{delay: time.Second, body: okBody}}, timeout: 20 * time.Millisecond, wantClass: retryable,
			wantRequests: 3, wantErr: []string{"timed out after 20ms"}},
		{name: "records path missing", replies: []reply{{body: `{"rows":[]}`}}, wantClass: permanent, wantRequests: 1,
			wantErr: []string{`records path "data" not found`}},
		{name: "records not an array", replies: []reply{{body: `{"data":{"id":1}}`}}, wantClass: permanent, wantRequests: 1,
			wantErr: []string{`records path "data" is an object, not an array`}},
		{name: "total_pages missing", replies: []reply{{body: okBody}}, wantClass: permanent, wantRequests: 1,
			pg:      &pipeline.Pagination{Type: pipeline.PageNumber, StartPage: 1, TotalPagesPath: "total"},
			wantErr: []string{`total_pages_path "total": not found`}},
		{name: "max_pages exceeded", replies: []reply{{body: okBody}}, wantClass: permanent, wantRequests: 5,
			pg:      &pipeline.Pagination{Type: pipeline.PageNumber, StartPage: 1, MaxPages: 5},
			wantErr: []string{"more than max_pages (5) pages"}},
		{name: "cursor that does not advance", replies: []reply{{body: `{"data":[1],"next":"c1"}`}}, wantClass: permanent, wantRequests: 2,
			pg:      &pipeline.Pagination{Type: pipeline.Cursor, CursorParam: "c", CursorPath: "next"},
			wantErr: []string{"source t page 1: ", "sent back the cursor it was given"}},
		{name: "cursor of the wrong type", replies: []reply{{body: `{"data":[1],"next":{"a":1}}`}}, wantClass: permanent, wantRequests: 1,
			pg:      &pipeline.Pagination{Type: pipeline.Cursor, CursorParam: "c", CursorPath: "next"},
			wantErr: []string{"want a string or a number, got an object"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, n := script(tt.replies...)
			srv := httptest.NewServer(h)
			defer srv.Close()
			pg := pipeline.Pagination{Type: pipeline.NoPagination}
			if tt.pg != nil {
				pg = *tt.pg
			}
			src := &pipeline.Source{Name: "t", Pagination: pg, Records: pipeline.Records{Path: "data"},
				Request: pipeline.Request{BaseURL: srv.URL, Path: "/t", Query: map[string]string{"api_key": "qs3cr3t"},
					Headers: map[string]string{"Authorization": "Bearer hs3cr3t"}, Timeout: tt.timeout}}

			c, sl := recordingClient()
			// Attempts are counted as the client sends them: a request that
			// times out may never reach the server (a loaded machine can
			// spend the 20ms before the handler runs), so the server's count
			// is not the client's.
			attempts := &countingTransport{next: http.DefaultTransport}
			c.HTTP = &http.Client{Transport: attempts}
			_, _, err := collect(context.Background(), c, src, window(t))

			switch tt.wantClass {
			case ok:
				if err != nil {
					t.Fatalf("Fetch: %v", err)
				}
			case retryable:
				if err == nil || fault.ClassOf(err) != fault.Retry {
					t.Fatalf("Fetch = %v (%s), want a retryable error", err, fault.ClassOf(err))
				}
			case permanent:
				if !fault.IsPermanent(err) {
					t.Fatalf("Fetch = %v (%s), want a permanent error", err, fault.ClassOf(err))
				}
			}
			if got := int(attempts.n.Load()); got != tt.wantRequests {
				t.Errorf("%d requests sent, want %d", got, tt.wantRequests)
			}
			if got := int(n.Load()); got > tt.wantRequests {
				t.Errorf("the server saw %d requests, more than the %d sent", got, tt.wantRequests)
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			if err != nil && strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error leaks the request's credentials: %v", err)
			}
			var se *StatusError
			if got := errors.As(err, &se); got != (tt.wantStatus != 0) || got && se.StatusCode != tt.wantStatus {
				t.Errorf("StatusError in %v: %v, want status %d", err, se, tt.wantStatus)
			}
			if se != nil && len(se.Body) > maxErrorBody {
				t.Errorf("StatusError body is %d bytes", len(se.Body))
			}
			if tt.wantWait > 0 && !slices.Contains(sl.all(), tt.wantWait) {
				t.Errorf("waits %v, want one of %s", sl.all(), tt.wantWait)
			}
		})
	}
}

func TestFetchConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	src := &pipeline.Source{Name: "gone", Request: pipeline.Request{BaseURL: addr, Path: "/"},
		Pagination: pipeline.Pagination{Type: pipeline.NoPagination}}
	_, _, err := collect(context.Background(), testClient(), src, window(t))
	if err == nil || fault.ClassOf(err) != fault.Retry {
		t.Fatalf("Fetch = %v, want a retryable error", err)
	}
	if !strings.Contains(err.Error(), addr+"/") {
		t.Errorf("error lacks the (redacted) URL: %v", err)
	}
}

func TestFetchCallbackError(t *testing.T) {
	// orders has 3 pages; the callback refuses the second. The serial walk
	// asks for no page after it; the concurrent one may have asked for the
	// third already, and drops it.
	tests := []struct {
		name         string
		concurrency  int
		wantRequests int
	}{
		{"serial", 1, 2},
		{"concurrent", 4, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := demoapi.New(demoapi.Options{})
			srv := httptest.NewServer(api)
			defer srv.Close()
			cfg, err := pipeline.Parse("demo.yaml", []byte(api.PipelineYAML(srv.URL, []string{"orders"})))
			if err != nil {
				t.Fatal(err)
			}
			src, _ := cfg.Source("orders")
			src.Pagination.Concurrency = tt.concurrency
			stop := errors.New("sink full")
			var seen []int
			err = testClient().Fetch(context.Background(), src, window(t), func(_ context.Context, p Page) error {
				seen = append(seen, p.Number)
				if p.Number == 1 {
					return stop
				}
				return nil
			})
			if err != stop {
				t.Errorf("Fetch = %v, want the callback's error as is", err)
			}
			if !slices.Equal(seen, []int{0, 1}) {
				t.Errorf("pages handed over %v, want [0 1]", seen)
			}
			if n := api.Requests("orders"); n > tt.wantRequests {
				t.Errorf("%d requests, want at most %d", n, tt.wantRequests)
			}
		})
	}
}

func TestFetchDemoFailures(t *testing.T) {
	api := demoapi.New(demoapi.Options{})
	srv := httptest.NewServer(api)
	defer srv.Close()
	cfg, err := pipeline.Parse("demo.yaml", []byte(api.PipelineYAML(srv.URL, nil)))
	if err != nil {
		t.Fatal(err)
	}
	src, _ := cfg.Source("customers")

	api.FailNext("customers", 503, 2)
	if _, _, err := collect(context.Background(), testClient(), src, window(t)); err != nil {
		t.Fatalf("two 503s within three attempts: %v", err)
	}
	api.SetFailure("customers", 500)
	before := api.Requests("customers")
	_, _, err = collect(context.Background(), testClient(), src, window(t))
	if fault.ClassOf(err) != fault.Retry || api.Requests("customers")-before != 3 {
		t.Errorf("always 500: %v after %d requests", err, api.Requests("customers")-before)
	}
}

// TestFetchRequestTemplates checks the placeholders of every part of a
// request, window formats and page values, and that a page value placed by
// the request is not also sent as a query parameter.
func TestFetchRequestTemplates(t *testing.T) {
	type seen struct {
		method, uri, body, ctype string
		header                   http.Header
	}
	var mu sync.Mutex
	var reqs []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, seen{r.Method, r.URL.RequestURI(), string(b), r.Header.Get("Content-Type"), r.Header.Clone()})
		n := len(reqs)
		mu.Unlock()
		if n < 3 {
			fmt.Fprintf(w, `{"d":[%d],"next":"c%d \"q\""}`, n, n)
			return
		}
		io.WriteString(w, `{"d":[]}`)
	}))
	defer srv.Close()
	cfg, err := pipeline.Parse("t.yaml", []byte(`
version: 1
sources:
  - name: t
    request:
      method: post
      base_url: "`+srv.URL+`/api"
      path: "/v1/{date:20060102}/items"
      query: {since: "{start:unix}", until: "{end:unix_ms}", from: "{start:rfc3339}", day: "{date}", after: "{cursor}"}
      headers: {X-Window: "{start:2006-01-02T15} to {end:15:04}", X-Limit: "{limit}"}
      body: '{"cursor": {cursor}, "also": "<{cursor}>", "size": {limit}, "at": {start:unix_ms}, "day": {date}}'
    pagination: {type: cursor, cursor_path: next, page_size: 2}
    records: {path: d}
    partition: {every: hour}
`))
	if err != nil {
		t.Fatal(err)
	}
	src, _ := cfg.Source("t")
	w, err := src.Partition.ParseKey("2026-11-01T13")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := collect(context.Background(), testClient(), src, w); err != nil {
		t.Fatal(err)
	}
	const q = "day=2026-11-01&from=2026-11-01T13%3A00%3A00Z&since=1793538000&until=1793541600000"
	want := []seen{
		{uri: "/api/v1/20261101/items?" + q,
			body: `{"cursor": null, "also": "<>", "size": 2, "at": 1793538000000, "day": "2026-11-01"}`},
		{uri: "/api/v1/20261101/items?after=c1+%22q%22&" + q,
			body: `{"cursor": "c1 \"q\"", "also": "<c1 \"q\">", "size": 2, "at": 1793538000000, "day": "2026-11-01"}`},
		{uri: "/api/v1/20261101/items?after=c2+%22q%22&" + q,
			body: `{"cursor": "c2 \"q\"", "also": "<c2 \"q\">", "size": 2, "at": 1793538000000, "day": "2026-11-01"}`},
	}
	if len(reqs) != len(want) {
		t.Fatalf("%d requests, want %d", len(reqs), len(want))
	}
	for i, r := range reqs {
		if r.method != "POST" || r.uri != want[i].uri || r.body != want[i].body || r.ctype != "application/json" {
			t.Errorf("request %d: %s %s %s\n%s\nwant POST %s application/json\n%s", i, r.method, r.uri, r.ctype, r.body, want[i].uri, want[i].body)
		}
		if got := r.header.Get("X-Window"); got != "2026-11-01T13 to 14:00" || r.header.Get("X-Limit") != "2" {
			t.Errorf("request %d: headers %v", i, r.header)
		}
	}
}
