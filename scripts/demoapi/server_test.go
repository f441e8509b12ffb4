package demoapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

func get(t *testing.T, srv *httptest.Server, path string) (int, []byte) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("GET %s: Content-Type %q", path, ct)
	}
	return resp.StatusCode, body
}

func TestPageNumber(t *testing.T) {
	tests := []struct {
		name, source string
		opts         Options
		perPage      string
		wantRequests int
		wantTotal    bool
	}{
		{"orders default page size", "orders", Options{}, "", 3, true},
		{"orders exact multiple", "orders", Options{RecordsPerDay: 200}, "50", 4, true},
		{"events without total: one empty page more", "events", Options{}, "100", 4, false},
		{"empty day", "orders", Options{Sources: map[string]SourceOptions{"orders": {RecordsPerDay: -1}}}, "", 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(tt.opts)
			srv := httptest.NewServer(s)
			defer srv.Close()
			day := "2026-11-01"
			var got []json.RawMessage
			requests := 0
			for page := 1; ; page++ {
				q := url.Values{"day": {day}, "page": {fmt.Sprint(page)}}
				if tt.perPage != "" {
					q.Set("per_page", tt.perPage)
				}
				status, body := get(t, srv, "/v1/"+tt.source+"?"+q.Encode())
				requests++
				if status != http.StatusOK {
					t.Fatalf("page %d: status %d: %s", page, status, body)
				}
				var resp struct {
					Data       []json.RawMessage `json:"data"`
					Page       int               `json:"page"`
					TotalPages *int              `json:"total_pages"`
				}
				if err := json.Unmarshal(body, &resp); err != nil {
					t.Fatal(err)
				}
				if (resp.TotalPages != nil) != tt.wantTotal || resp.Page != page {
					t.Fatalf("page %d: total_pages %v, page %d", page, resp.TotalPages, resp.Page)
				}
				got = append(got, resp.Data...)
				if resp.TotalPages != nil && page >= *resp.TotalPages || resp.TotalPages == nil && len(resp.Data) == 0 {
					break
				}
			}
			assertRecords(t, got, s.RecordsFor(tt.source, day))
			if requests != tt.wantRequests || s.Requests(tt.source) != requests {
				t.Errorf("%d requests (server counted %d), want %d", requests, s.Requests(tt.source), tt.wantRequests)
			}
		})
	}
}

func TestCursor(t *testing.T) {
	tests := []struct {
		name      string
		perDay    int
		limit     string
		wantPages int
	}{
		{"default limit", 250, "", 3},
		{"exact multiple", 200, "100", 2},
		{"one record per page", 5, "1", 5},
		{"no records", -1, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Options{Sources: map[string]SourceOptions{"customers": {Style: Cursor, RecordsPerDay: tt.perDay}}})
			srv := httptest.NewServer(s)
			defer srv.Close()
			var got []json.RawMessage
			cursor, pages := "", 0
			for {
				q := url.Values{"day": {"2026-11-01"}}
				if tt.limit != "" {
					q.Set("limit", tt.limit)
				}
				if cursor != "" {
					q.Set("cursor", cursor)
				}
				status, body := get(t, srv, "/v1/customers/events?"+q.Encode())
				if status != http.StatusOK {
					t.Fatalf("status %d: %s", status, body)
				}
				pages++
				var resp struct {
					Items      []json.RawMessage `json:"items"`
					NextCursor *string           `json:"next_cursor"`
				}
				if err := json.Unmarshal(body, &resp); err != nil {
					t.Fatal(err)
				}
				got = append(got, resp.Items...)
				if resp.NextCursor == nil {
					break
				}
				cursor = *resp.NextCursor
			}
			if pages != tt.wantPages {
				t.Errorf("%d pages, want %d", pages, tt.wantPages)
			}
			assertRecords(t, got, s.RecordsFor("customers", "2026-11-01"))
		})
	}
}

func assertRecords(t *testing.T, got []json.RawMessage, want [][]byte) {
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

func TestErrors(t *testing.T) {
	srv := httptest.NewServer(New(Options{}))
	defer srv.Close()
	otherDay := encodeCursor("customers", "2026-11-02", 100)
	tests := []struct {
		name, path string
		want       int
	}{
		{"unknown source", "/v1/nope?day=2026-11-01", 404},
		{"cursor source on page route", "/v1/customers?day=2026-11-01", 404},
		{"page source on cursor route", "/v1/orders/events?day=2026-11-01", 404},
		{"unknown route", "/v2/orders", 404},
		{"missing day", "/v1/orders", 400},
		{"invalid day", "/v1/orders?day=2026-13-01", 400},
		{"loose day", "/v1/orders?day=2026-11-1", 400},
		{"page zero", "/v1/orders?day=2026-11-01&page=0", 400},
		{"page not a number", "/v1/orders?day=2026-11-01&page=x", 400},
		{"per_page too large", "/v1/orders?day=2026-11-01&per_page=10001", 400},
		{"cursor garbage", "/v1/customers/events?day=2026-11-01&cursor=%21%21", 400},
		{"cursor of another day", "/v1/customers/events?day=2026-11-01&cursor=" + otherDay, 400},
		{"cursor past the end", "/v1/customers/events?day=2026-11-01&cursor=" + encodeCursor("customers", "2026-11-01", 251), 400},
		{"page past the end is empty", "/v1/orders?day=2026-11-01&page=99", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := get(t, srv, tt.path)
			if status != tt.want {
				t.Errorf("status %d, want %d: %s", status, tt.want, body)
			}
			if !json.Valid(body) {
				t.Errorf("body is not JSON: %s", body)
			}
		})
	}
}

func TestFailureInjection(t *testing.T) {
	s := New(Options{Sources: map[string]SourceOptions{
		"orders": {},
		"broken": {FailStatus: http.StatusBadGateway},
	}})
	srv := httptest.NewServer(s)
	defer srv.Close()
	admin := func(query string) int {
		resp, err := srv.Client().Post(srv.URL+"/admin/fail?"+query, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	const orders = "/v1/orders?day=2026-11-01"

	steps := []struct {
		name   string
		do     func()
		path   string
		want   []int // statuses of successive GETs
		admin  string
		wantAd int
	}{
		{name: "FailStatus option", path: "/v1/broken?day=2026-11-01", want: []int{502, 502}},
		{name: "healthy", path: orders, want: []int{200}},
		{name: "SetFailure", do: func() { s.SetFailure("orders", 500) }, path: orders, want: []int{500, 500, 500}},
		{name: "SetFailure 0 clears", do: func() { s.SetFailure("orders", 0) }, path: orders, want: []int{200}},
		{name: "FailNext", do: func() { s.FailNext("orders", 503, 2) }, path: orders, want: []int{503, 503, 200}},
		{name: "admin fail", admin: "source=orders&status=429", wantAd: 204, path: orders, want: []int{429, 429}},
		{name: "admin clear", admin: "source=orders&status=0", wantAd: 204, path: orders, want: []int{200}},
		{name: "admin count", admin: "source=orders&status=500&count=1", wantAd: 204, path: orders, want: []int{500, 200}},
		{name: "admin unknown source", admin: "source=nope&status=500", wantAd: 404},
		{name: "admin bad status", admin: "source=orders&status=200", wantAd: 400},
		{name: "admin bad count", admin: "source=orders&status=500&count=0", wantAd: 400},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.do != nil {
				st.do()
			}
			if st.admin != "" {
				if got := admin(st.admin); got != st.wantAd {
					t.Fatalf("admin %s: status %d, want %d", st.admin, got, st.wantAd)
				}
			}
			for i, want := range st.want {
				if got, body := get(t, srv, st.path); got != want {
					t.Errorf("request %d: status %d, want %d: %s", i, got, want, body)
				}
			}
		})
	}

	// orders: 1+3+1+3+2+1+2 = 13 requests, broken: 2.
	if got := s.Requests("orders"); got != 13 {
		t.Errorf("Requests(orders) = %d, want 13", got)
	}
	status, body := get(t, srv, "/admin/requests")
	var counts map[string]int
	if err := json.Unmarshal(body, &counts); status != 200 || err != nil || counts["orders"] != 13 || counts["broken"] != 2 {
		t.Errorf("/admin/requests = %d %s (%v)", status, body, err)
	}
}

func TestDelay(t *testing.T) {
	s := New(Options{Sources: map[string]SourceOptions{"slow": {Delay: 150 * time.Millisecond}}})
	srv := httptest.NewServer(s)
	defer srv.Close()
	start := time.Now()
	resp, err := http.Get(srv.URL + "/v1/slow?day=2026-11-01")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if d := time.Since(start); d < 150*time.Millisecond || resp.StatusCode != http.StatusOK {
		t.Fatalf("answered %d after %v, want 200 after the 150ms delay", resp.StatusCode, d)
	}
}

func TestQuota(t *testing.T) {
	period := 1500 * time.Millisecond
	s := New(Options{Sources: map[string]SourceOptions{"orders": {Quota: &Quota{Requests: 2, Period: period}}}})
	srv := httptest.NewServer(s)
	defer srv.Close()
	path := "/v1/orders?day=2026-11-01&page=1"
	for i, want := range []int{200, 200, 429, 429} {
		if code, body := get(t, srv, path); code != want {
			t.Fatalf("request %d: status %d (%s), want %d", i, code, body, want)
		}
	}
	resp, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ra := resp.Header.Get("Retry-After"); resp.StatusCode != 429 || (ra != "1" && ra != "2") {
		t.Fatalf("over quota: %d with Retry-After %q, want 429 with the rest of the period in seconds", resp.StatusCode, ra)
	}
	time.Sleep(period)
	if code, body := get(t, srv, path); code != 200 {
		t.Fatalf("after the period: status %d (%s), want 200", code, body)
	}
	if n := s.Requests("orders"); n != 6 {
		t.Fatalf("Requests = %d, want 6 (refused ones included)", n)
	}
	if n := s.Served("orders").QuotaPeriods; n != 2 {
		t.Fatalf("QuotaPeriods = %d, want 2 (the first request's, the one after it ended)", n)
	}
}

// Served tells apart the pages a client got, the injected failures and the
// quota's refusals; a body fault is neither a page nor an injected status.
func TestServed(t *testing.T) {
	s := New(Options{Sources: map[string]SourceOptions{
		"orders": {Quota: &Quota{Requests: 4, Period: time.Hour}},
		"events": {},
	}})
	srv := httptest.NewServer(s)
	defer srv.Close()
	path := "/v1/orders?day=2026-11-01&page=1"
	s.Inject("orders", Failure{Status: 503, Count: 1})
	s.Inject("events", Failure{Status: 429, RetryAfter: "1", Count: 2})
	for i, want := range []int{503, 200, 200, 200, 429, 429} {
		if code, body := get(t, srv, path); code != want {
			t.Fatalf("orders request %d: status %d (%s), want %d", i, code, body, want)
		}
	}
	for i, want := range []int{429, 429, 200} {
		if code, body := get(t, srv, "/v1/events?day=2026-11-01&page=1"); code != want {
			t.Fatalf("events request %d: status %d (%s), want %d", i, code, body, want)
		}
	}
	s.Inject("events", Failure{Body: NotJSON, Count: 1})
	resp, err := srv.Client().Get(srv.URL + "/v1/events?day=2026-11-01&page=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, want := s.Served("orders"), (Served{Pages: 3, Injected: 1, OverQuota: 2, QuotaPeriods: 1}); got != want {
		t.Fatalf("orders: Served = %+v, want %+v", got, want)
	}
	if got, want := s.Served("events"), (Served{Pages: 1, Injected: 2}); got != want {
		t.Fatalf("events: Served = %+v, want %+v", got, want)
	}
}
