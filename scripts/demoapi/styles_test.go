package demoapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// do sends a request and returns the status, headers and body.
func do(t *testing.T, req *http.Request) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}

func newRequest(t *testing.T, method, u, body string) *http.Request {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, r)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestOffset(t *testing.T) {
	s := New(Options{Sources: map[string]SourceOptions{"src": {Style: Offset}}})
	srv := httptest.NewServer(s)
	defer srv.Close()
	var got []json.RawMessage
	for offset := 0; ; {
		status, _, body := do(t, newRequest(t, "GET", srv.URL+"/v1/src?day=2026-11-01&limit=100&offset="+strconv.Itoa(offset), ""))
		var resp struct {
			Results []json.RawMessage `json:"results"`
			Total   int               `json:"total"`
		}
		if err := json.Unmarshal(body, &resp); status != 200 || err != nil || resp.Total != 250 {
			t.Fatalf("status %d, %v: %s", status, err, body)
		}
		got = append(got, resp.Results...)
		offset += len(resp.Results)
		if len(resp.Results) == 0 || offset >= resp.Total {
			break
		}
	}
	assertRecords(t, got, s.RecordsFor("src", "2026-11-01"))
}

func TestNextURLAndLinkHeader(t *testing.T) {
	tests := []struct {
		name string
		so   SourceOptions
	}{
		{"next_url absolute", SourceOptions{Style: NextURL}},
		{"next_url relative", SourceOptions{Style: NextURL, RelativeNext: true}},
		{"link_header", SourceOptions{Style: LinkHeader}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Options{Sources: map[string]SourceOptions{"src": tt.so}})
			srv := httptest.NewServer(s)
			defer srv.Close()
			var got []json.RawMessage
			next := srv.URL + "/v1/src?day=2026-11-01"
			for pages := 0; next != ""; pages++ {
				if pages > 5 {
					t.Fatal("too many pages")
				}
				status, h, body := do(t, newRequest(t, "GET", next, ""))
				if status != 200 {
					t.Fatalf("status %d: %s", status, body)
				}
				next = ""
				if tt.so.Style == LinkHeader {
					var recs []json.RawMessage
					if err := json.Unmarshal(body, &recs); err != nil {
						t.Fatal(err)
					}
					got = append(got, recs...)
					links := strings.Join(h.Values("Link"), ", ")
					for _, l := range strings.Split(links, ", <") {
						if strings.Contains(l, `rel="next"`) {
							next = strings.Trim(strings.SplitN(l, ">", 2)[0], "<")
						}
					}
					if len(h.Values("Link")) != 2 || !strings.Contains(links, `rel=last`) {
						t.Errorf("Link headers %q", h.Values("Link"))
					}
					continue
				}
				var resp struct {
					Data  []json.RawMessage `json:"data"`
					Links struct {
						Next *string `json:"next"`
					} `json:"links"`
				}
				if err := json.Unmarshal(body, &resp); err != nil {
					t.Fatal(err)
				}
				got = append(got, resp.Data...)
				if resp.Links.Next != nil {
					if tt.so.RelativeNext != !strings.HasPrefix(*resp.Links.Next, "http://") {
						t.Errorf("next %q", *resp.Links.Next)
					}
					u, _ := url.Parse(srv.URL)
					ref, _ := url.Parse(*resp.Links.Next)
					next = u.ResolveReference(ref).String()
				}
			}
			assertRecords(t, got, s.RecordsFor("src", "2026-11-01"))
		})
	}
}

func TestPostAndNone(t *testing.T) {
	s := New(Options{Sources: map[string]SourceOptions{
		"pages": {Style: PageNumber, Method: "POST"},
		"all":   {Style: NoPagination},
	}})
	srv := httptest.NewServer(s)
	defer srv.Close()
	status, _, body := do(t, newRequest(t, "POST", srv.URL+"/v1/pages", `{"since": 1793491200, "page": 3, "per_page": 100, "cursor": null}`))
	var resp struct {
		Data []json.RawMessage `json:"data"`
		Page int               `json:"page"`
	}
	if err := json.Unmarshal(body, &resp); status != 200 || err != nil || resp.Page != 3 || len(resp.Data) != 50 {
		t.Errorf("POST page 3: %d %v page %d, %d records", status, err, resp.Page, len(resp.Data))
	}
	for _, tt := range []struct {
		method, path, body string
		want               int
	}{
		{"GET", "/v1/pages?day=2026-11-01", "", 405},
		{"POST", "/v1/pages", `{"since": 1793491201}`, 400},
		{"POST", "/v1/pages", `[1]`, 400},
		{"POST", "/v1/all", `{"day": "2026-11-01"}`, 405},
	} {
		if status, _, body := do(t, newRequest(t, tt.method, srv.URL+tt.path, tt.body)); status != tt.want {
			t.Errorf("%s %s %s: status %d, want %d: %s", tt.method, tt.path, tt.body, status, tt.want, body)
		}
	}
	status, _, body = do(t, newRequest(t, "GET", srv.URL+"/v1/all?day=2026-11-01", ""))
	var all []json.RawMessage
	if err := json.Unmarshal(body, &all); status != 200 || err != nil {
		t.Fatalf("none: %d %v", status, err)
	}
	assertRecords(t, all, s.RecordsFor("all", "2026-11-01"))
}

func TestAuth(t *testing.T) {
	s := New(Options{Sources: map[string]SourceOptions{
		"hkey": {Auth: AuthAPIKeyHeader}, "qkey": {Auth: AuthAPIKeyQuery}, "bearer": {Auth: AuthBearer},
		"basic": {Auth: AuthBasic}, "oauth": {Auth: AuthOAuth2, TokenUses: 2},
	}})
	srv := httptest.NewServer(s)
	defer srv.Close()
	const q = "?day=2026-11-01"
	status := func(source, query string, set func(*http.Request)) (int, string) {
		req := newRequest(t, "GET", srv.URL+"/v1/"+source+q+query, "")
		if set != nil {
			set(req)
		}
		st, _, body := do(t, req)
		return st, string(body)
	}
	header := func(k, v string) func(*http.Request) { return func(r *http.Request) { r.Header.Set(k, v) } }
	token := func(form url.Values, basic bool) (int, string, int) {
		req := newRequest(t, "POST", srv.URL+"/oauth/token", form.Encode())
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basic {
			req.SetBasicAuth(ClientID, ClientSecret)
		}
		st, _, body := do(t, req)
		var tok struct {
			AccessToken string `json:"access_token"`
			ExpiresIn   int    `json:"expires_in"`
		}
		json.Unmarshal(body, &tok)
		return st, tok.AccessToken, tok.ExpiresIn
	}

	for _, tt := range []struct {
		name, source, query string
		set                 func(*http.Request)
		want                int
	}{
		{"header key", "hkey", "", header(APIKeyHeader, APIKey), 200},
		{"header key missing", "hkey", "", nil, 401},
		{"query key", "qkey", "&api_key=" + APIKey, nil, 200},
		{"query key wrong", "qkey", "&api_key=nope", nil, 401},
		{"bearer", "bearer", "", header("Authorization", "Bearer "+BearerToken), 200},
		{"bearer wrong", "bearer", "", header("Authorization", "Bearer x"), 401},
		{"basic", "basic", "", func(r *http.Request) { r.SetBasicAuth(Username, Password) }, 200},
		{"basic wrong", "basic", "", func(r *http.Request) { r.SetBasicAuth(Username, "x") }, 401},
		{"oauth without a token", "oauth", "", nil, 401},
		{"oauth with a made-up token", "oauth", "", header("Authorization", "Bearer demo-token-000001"), 401},
	} {
		if got, body := status(tt.source, tt.query, tt.set); got != tt.want {
			t.Errorf("%s: status %d, want %d: %s", tt.name, got, tt.want, body)
		}
	}
	if _, body := status("qkey", "&api_key=nope", nil); !strings.Contains(body, `invalid api key \"nope\"`) {
		t.Errorf("refused query key not quoted back: %s", body)
	}

	if st, _, _ := token(url.Values{"grant_type": {"client_credentials"}, "client_id": {ClientID}, "client_secret": {"x"}}, false); st != 401 {
		t.Errorf("token with a wrong secret: %d", st)
	}
	if st, _, _ := token(url.Values{"grant_type": {"password"}}, true); st != 400 {
		t.Errorf("token with another grant: %d", st)
	}
	st, tok, ttl := token(url.Values{"grant_type": {"client_credentials"}, "client_id": {ClientID}, "client_secret": {ClientSecret}}, false)
	if st != 200 || tok == "" || ttl != 3600 {
		t.Fatalf("token: %d %q %d", st, tok, ttl)
	}
	// TokenUses 2: the third use is refused.
	for i, want := range []int{200, 200, 401} {
		if got, _ := status("oauth", "", header("Authorization", "Bearer "+tok)); got != want {
			t.Errorf("use %d of the token: status %d, want %d", i+1, got, want)
		}
	}
	s.SetTokenTTL(time.Millisecond)
	_, tok, ttl = token(url.Values{"grant_type": {"client_credentials"}}, true)
	if ttl != 1 {
		t.Errorf("expires_in %d, want 1", ttl)
	}
	time.Sleep(5 * time.Millisecond)
	if got, _ := status("oauth", "", header("Authorization", "Bearer "+tok)); got != 401 {
		t.Errorf("expired token: status %d", got)
	}
	if n := s.TokenRequests(); n != 2 {
		t.Errorf("TokenRequests = %d, want 2", n)
	}
}

func TestInject(t *testing.T) {
	s := New(Options{Sources: map[string]SourceOptions{
		"src":  {Style: Cursor},
		"busy": {Fail: &Failure{Status: 503, RetryAfter: "7"}},
	}})
	srv := httptest.NewServer(s)
	defer srv.Close()
	get := func(path string) (int, http.Header, []byte, error) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			return 0, nil, nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, body, err
	}
	const src = "/v1/src/events?day=2026-11-01"

	if st, h, _, _ := get("/v1/busy?day=2026-11-01"); st != 503 || h.Get("Retry-After") != "7" {
		t.Errorf("Fail option: %d, Retry-After %q", st, h.Get("Retry-After"))
	}
	date := time.Now().Add(time.Minute).UTC().Format(http.TimeFormat)
	s.Inject("src", Failure{Status: 429, RetryAfter: date, Count: 1})
	if st, h, _, _ := get(src); st != 429 || h.Get("Retry-After") != date {
		t.Errorf("429: %d, Retry-After %q", st, h.Get("Retry-After"))
	}
	if st, _, _, _ := get(src); st != 200 {
		t.Errorf("after the count: %d", st)
	}
	s.Inject("src", Failure{Body: Truncated, Count: 1})
	if _, _, _, err := get(src); err == nil || !strings.Contains(err.Error(), "unexpected EOF") {
		t.Errorf("truncated body read without error: %v", err)
	}
	s.Inject("src", Failure{Body: NotJSON, Count: 1})
	if st, h, body, _ := get(src); st != 200 || json.Valid(body) || h.Get("Content-Type") != "text/html" {
		t.Errorf("not JSON: %d %s %s", st, h.Get("Content-Type"), body)
	}
	resp, err := http.Post(srv.URL+"/admin/fail?source=src&body=not_json&count=1", "", nil)
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("admin body fault: %v %v", resp, err)
	}
	resp.Body.Close()
	if _, _, body, _ := get(src); json.Valid(body) {
		t.Errorf("admin body fault not applied: %s", body)
	}
	resp, err = http.Post(srv.URL+"/admin/fail?source=src&status=503&retry_after=1&count=1", "", nil)
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("admin retry_after: %v %v", resp, err)
	}
	resp.Body.Close()
	if st, h, _, _ := get(src); st != 503 || h.Get("Retry-After") != "1" {
		t.Errorf("admin retry_after: %d %q", st, h.Get("Retry-After"))
	}
	if st, _, _, _ := get(src); st != 200 {
		t.Errorf("healthy again: %d", st)
	}
}
