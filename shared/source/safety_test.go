package source

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/pipeline"
)

// foreign is another host, which a source must never be made to call.
func foreign(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, `[]`)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// TestNextURLOnAnotherHost checks that a next link (body or Link header)
// to another scheme, host or port is refused before anything is sent there.
func TestNextURLOnAnotherHost(t *testing.T) {
	evil, hits := foreign(t)
	evilHost := strings.TrimPrefix(evil.URL, "http://")
	for _, style := range []demoapi.Style{demoapi.NextURL, demoapi.LinkHeader} {
		t.Run(string(style), func(t *testing.T) {
			d := startDemo(t, styleOpts(demoapi.SourceOptions{Style: style, NextHost: evilHost, Auth: demoapi.AuthAPIKeyQuery}))
			c := testClient()
			c.Auth = authorizers(t, d.cfg, demoapi.Env())
			pages, err := walk(context.Background(), c, d.src("src"), nil)
			if !fault.IsPermanent(err) || !strings.Contains(err.Error(), "source src page 0: ") ||
				!strings.Contains(err.Error(), "next URL on "+evil.URL+" refused: not the host of request.base_url") {
				t.Fatalf("Fetch = %v (%s), want a permanent refusal", err, fault.ClassOf(err))
			}
			if len(pages) != 0 || d.api.Requests("src") != 1 || hits.Load() != 0 {
				t.Errorf("%d pages, %d requests, %d to the other host; want 0, 1, 0", len(pages), d.api.Requests("src"), hits.Load())
			}
			if strings.Contains(err.Error(), demoapi.APIKey) {
				t.Errorf("error leaks the api key: %v", err)
			}
		})
	}
}

func TestSameOrigin(t *testing.T) {
	base, _ := url.Parse("https://API.example.com/v1")
	tests := []struct {
		u    string
		want bool
	}{
		{"https://api.example.com/v2?x=1", true},
		{"https://api.example.com:443/v1", true},
		{"HTTPS://api.EXAMPLE.com/v1", true},
		{"http://api.example.com/v1", false},
		{"https://api.example.com:8443/v1", false},
		{"https://evil.example.com/v1", false},
		{"https://api.example.com.evil.net/v1", false},
		{"https://api.example.com@evil.net/v1", false},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.u)
		if err != nil {
			t.Fatal(err)
		}
		if got := sameOrigin(u, base); got != tt.want {
			t.Errorf("sameOrigin(%s) = %v, want %v", tt.u, got, tt.want)
		}
	}
}

func TestRedirects(t *testing.T) {
	evil, hits := foreign(t)
	var api *httptest.Server
	api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, evil.URL+"/steal?"+r.URL.RawQuery, http.StatusFound)
		case "/moved":
			http.Redirect(w, r, api.URL+"/here", http.StatusMovedPermanently)
		default:
			io.WriteString(w, `[1,2]`)
		}
	}))
	defer api.Close()
	src := func(path string) *pipeline.Source {
		return &pipeline.Source{Name: "r", Request: pipeline.Request{BaseURL: api.URL, Path: path, Query: map[string]string{"k": "s3cr3t"}},
			Pagination: pipeline.Pagination{Type: pipeline.NoPagination}}
	}
	recs, _, err := collect(context.Background(), testClient(), src("/moved"), window(t))
	if err != nil || len(recs) != 2 {
		t.Errorf("redirect on the same host: %d records, %v", len(recs), err)
	}
	_, _, err = collect(context.Background(), testClient(), src("/away"), window(t))
	if !fault.IsPermanent(err) || !strings.Contains(err.Error(), "redirect to "+evil.URL+" refused") {
		t.Errorf("redirect elsewhere: %v (%s), want a permanent refusal", err, fault.ClassOf(err))
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error leaks the query: %v", err)
	}
	if hits.Load() != 0 {
		t.Errorf("the other host got %d requests", hits.Load())
	}
}

// TestResumeChecks checks that a state that does not fit the source is
// refused before any request.
func TestResumeChecks(t *testing.T) {
	evil, _ := foreign(t)
	tests := []struct {
		name  string
		style demoapi.Style
		st    State
		want  string
	}{
		{"next URL on another host", demoapi.NextURL, State{Pages: 1, NextURL: evil.URL + "/v1/src?page_token=x"},
			"source src: resume: state's next_url is on " + evil.URL + ", not the host of request.base_url"},
		{"link on another scheme", demoapi.LinkHeader, State{Pages: 1, NextURL: "https://127.0.0.1/v1/src"}, "not the host of request.base_url"},
		{"next URL on another host at page 0", demoapi.NextURL, State{NextURL: evil.URL + "/v1/src"}, "not the host of request.base_url"},
		{"next URL missing", demoapi.NextURL, State{Pages: 2}, "state past the first page has no next_url"},
		{"cursor for page numbers", demoapi.PageNumber, State{Pages: 1, Cursor: "abc"}, "state has [cursor], which pagination type page_number does not use"},
		{"cursor missing", demoapi.Cursor, State{Pages: 1}, "state past the first page has no cursor"},
		{"nothing to resume", demoapi.NoPagination, State{Pages: 1}, "nothing to resume"},
		{"negative", demoapi.Offset, State{Pages: 1, Offset: -5}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := startDemo(t, styleOpts(demoapi.SourceOptions{Style: tt.style}))
			_, err := walk(context.Background(), testClient(), d.src("src"), &tt.st)
			if !fault.IsPermanent(err) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("FetchFrom = %v (%s), want a permanent %q", err, fault.ClassOf(err), tt.want)
			}
			if n := d.api.Requests("src"); n != 0 {
				t.Errorf("%d requests, want none", n)
			}
		})
	}
}

// TestSecretsNeverInErrors fails requests every way there is with an api
// key in the query, and checks that the key never reaches the error.
func TestSecretsNeverInErrors(t *testing.T) {
	gone := httptest.NewServer(http.NotFoundHandler())
	goneURL := gone.URL
	gone.Close()
	tests := []struct {
		name    string
		so      demoapi.SourceOptions
		fail    demoapi.Failure
		baseURL string // instead of the demo's
		timeout time.Duration
		wantErr string
	}{
		{name: "500s", so: demoapi.SourceOptions{Style: demoapi.Offset}, fail: demoapi.Failure{Status: 500}, wantErr: "status 500"},
		{name: "404", so: demoapi.SourceOptions{Style: demoapi.Offset}, fail: demoapi.Failure{Status: 404}, wantErr: "status 404"},
		{name: "not JSON", so: demoapi.SourceOptions{Style: demoapi.Cursor}, fail: demoapi.Failure{Body: demoapi.NotJSON}, wantErr: "not valid JSON"},
		{name: "truncated", so: demoapi.SourceOptions{Style: demoapi.Cursor}, fail: demoapi.Failure{Body: demoapi.Truncated}, wantErr: "unexpected EOF"},
		{name: "connection refused", so: demoapi.SourceOptions{Style: demoapi.PageNumber}, baseURL: goneURL,
			wantErr: `request: Get "` + goneURL + `/v1/src?api_key=REDACTED&day=REDACTED&page=REDACTED&per_page=REDACTED": `},
		{name: "timeout", so: demoapi.SourceOptions{Style: demoapi.NextURL, Delay: time.Second}, timeout: 20 * time.Millisecond,
			wantErr: "request: timed out after 20ms: Get \"http://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.so.Auth = demoapi.AuthAPIKeyQuery
			d := startDemo(t, styleOpts(tt.so))
			d.api.Inject("src", tt.fail)
			src := *d.src("src")
			if tt.baseURL != "" {
				src.Request.BaseURL = tt.baseURL
			}
			if tt.timeout > 0 {
				src.Request.Timeout = tt.timeout
			}
			c := testClient()
			c.Auth = authorizers(t, d.cfg, demoapi.Env())
			_, err := walk(context.Background(), c, &src, nil)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Fetch = %v, want an error with %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), demoapi.APIKey) || strings.Contains(err.Error(), url.QueryEscape(demoapi.APIKey)) {
				t.Errorf("error leaks the api key: %v", err)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://api.example.com/v1/x", "https://api.example.com/v1/x"},
		{"https://api.example.com/v1/x?api_key=s3cr3t&page=2", "https://api.example.com/v1/x?api_key=REDACTED&page=REDACTED"},
		{"https://user:pw@api.example.com/x?flag&k=v#frag", "https://api.example.com/x?flag&k=REDACTED"},
	}
	for _, tt := range tests {
		u, _ := url.Parse(tt.in)
		if got := redactURL(u); got != tt.want {
			t.Errorf("redactURL(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestErrorBody(t *testing.T) {
	req := httptest.NewRequest("GET", "http://x/p?day=2026-11-01", nil)
	before, beforeQuery := req.Header.Clone(), req.URL.RawQuery
	req.Header.Set("Authorization", "Bearer tok-12345678")
	req.Header.Set("X-Key", "k3y/with+chars")
	q := req.URL.Query()
	q.Set("api_key", "abc def")
	req.URL.RawQuery = q.Encode()
	secrets := credentials(before, beforeQuery, req)

	body := `{"error":"bad token tok-12345678 for key k3y/with+chars and api_key=abc+def (abc def) on 2026-11-01"}`
	got := errorBody([]byte(body), secrets)
	for _, s := range []string{"tok-12345678", "k3y/with+chars", "abc+def", "abc def"} {
		if strings.Contains(got, s) {
			t.Errorf("body keeps %q: %s", s, got)
		}
	}
	if !strings.Contains(got, "2026-11-01") {
		t.Errorf("body lost what is not a credential: %s", got)
	}
	long := errorBody([]byte(strings.Repeat("é", 300)), nil)
	if len(long) > maxErrorBody || !strings.HasPrefix(long, "éé") || strings.ContainsRune(long, '\uFFFD') {
		t.Errorf("long body cut to %d bytes: %q", len(long), long)
	}
}

// TestRecordsPath checks when a page without its records array is an
// empty page and when it is a wrong path.
func TestRecordsPath(t *testing.T) {
	tests := []struct {
		name    string
		pg      pipeline.Pagination
		replies []reply
		want    int    // records; -1 for an error
		wantErr string // of a permanent error
	}{
		{"missing on the only page", pipeline.Pagination{Type: pipeline.NoPagination},
			[]reply{{body: `{"rows":[1]}`}}, -1, `source t page 0: records path "data" not found in response`},
		{"null is an empty page", pipeline.Pagination{Type: pipeline.NoPagination},
			[]reply{{body: `{"data":null}`}}, 0, ""},
		{"an empty object is an empty page", pipeline.Pagination{Type: pipeline.NoPagination},
			[]reply{{body: ` {} `}}, 0, ""},
		{"missing on a page that goes on", pipeline.Pagination{Type: pipeline.Cursor, CursorParam: "c", CursorPath: "next"},
			[]reply{{body: `{"data":[1],"next":"a"}`}, {body: `{"rows":[2],"next":"b"}`}}, -1, `source t page 1: records path "data" not found in response`},
		{"missing on the last page", pipeline.Pagination{Type: pipeline.Cursor, CursorParam: "c", CursorPath: "next"},
			[]reply{{body: `{"data":[1],"next":"a"}`}, {body: `{"done":true}`}}, 1, ""},
		{"missing on the first page of page numbers", pipeline.Pagination{Type: pipeline.PageNumber, PageParam: "p"},
			[]reply{{body: `{"rows":[1]}`}}, -1, `records path "data" not found in response`},
		{"missing past the end of page numbers", pipeline.Pagination{Type: pipeline.PageNumber, PageParam: "p"},
			[]reply{{body: `{"data":[1]}`}, {body: `{"error":"no such page"}`}}, 1, ""},
		{"not an array", pipeline.Pagination{Type: pipeline.NoPagination},
			[]reply{{body: `{"data":"x"}`}}, -1, `records path "data" is a string, not an array`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := script(tt.replies...)
			srv := httptest.NewServer(h)
			defer srv.Close()
			src := &pipeline.Source{Name: "t", Request: pipeline.Request{BaseURL: srv.URL, Path: "/"}, Pagination: tt.pg, Records: pipeline.Records{Path: "data"}}
			recs, _, err := collect(context.Background(), testClient(), src, window(t))
			if tt.want < 0 {
				if !fault.IsPermanent(err) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Fetch = %v, want a permanent %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(recs) != tt.want {
				t.Fatalf("Fetch: %d records, %v; want %d", len(recs), err, tt.want)
			}
		})
	}
}

// TestNextLoops checks that an API sending back what it was given ends the
// walk rather than loop until max_pages.
func TestNextLoops(t *testing.T) {
	var self string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", `<`+self+`>; rel="next"`)
		io.WriteString(w, `{"data":[1],"next":"`+self+`"}`)
	}))
	defer srv.Close()
	self = srv.URL + "/x"
	for _, pg := range []pipeline.Pagination{{Type: pipeline.NextURL, NextURLPath: "next"}, {Type: pipeline.LinkHeader}} {
		src := &pipeline.Source{Name: "t", Request: pipeline.Request{BaseURL: srv.URL, Path: "/x"}, Pagination: pg, Records: pipeline.Records{Path: "data"}}
		_, _, err := collect(context.Background(), testClient(), src, window(t))
		if !fault.IsPermanent(err) || !strings.Contains(err.Error(), "sent back the URL it was given") {
			t.Errorf("%s: Fetch = %v, want a permanent loop error", pg.Type, err)
		}
	}
}
