package pipeline

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

var defaultOutput = Output{Format: JSONL, FileSize: DefaultFileSize}

var defaultRetry = Retry{MaxAttempts: DefaultMaxAttempts, BaseDelay: DefaultBaseDelay, MaxDelay: DefaultMaxDelay,
	MaxRetryAfter: DefaultMaxRetryAfter, MaxWait: DefaultMaxWait}

func TestLoadValid(t *testing.T) {
	c, err := Load("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Version: 1,
		Sources: []Source{
			{
				Name: "orders",
				Request: Request{
					Method:  "GET",
					BaseURL: "http://127.0.0.1:48003",
					Path:    "/v1/orders",
					Query:   map[string]string{"day": "{date}"},
					Headers: map[string]string{"Accept": "application/json"},
					Timeout: 10 * time.Second,
				},
				Pagination: Pagination{
					Type: PageNumber, PageParam: "page", StartPage: 1, SizeParam: "per_page", PageSize: 100,
					TotalPagesPath: "total_pages", MaxPages: 500, Concurrency: DefaultConcurrency,
				},
				Records:   Records{Path: "data"},
				Partition: Partition{Every: Day, Lookback: 1},
				Retry:     defaultRetry,
				Output: Output{
					Format: Parquet, FileSize: 64 << 20, Compression: Snappy, RecordColumn: "record",
					Columns: []Column{
						{Name: "id", Path: "id", Type: ColumnType{Kind: KindInt64}},
						{Name: "total", Path: "amount.total", Type: ColumnType{Kind: KindDecimal, Precision: 12, Scale: 2}},
						{Name: "placed_at", Path: "placed_at", Type: ColumnType{Kind: KindTimestamp}, Layout: LayoutRFC3339},
						{Name: "paid_at", Path: "payment.at", Type: ColumnType{Kind: KindTimestamp}, Layout: LayoutUnixMS},
						{Name: "day", Path: "day", Type: ColumnType{Kind: KindDate}},
						{Name: "tags", Path: "tags", Type: ColumnType{Kind: KindJSON}},
					},
				},
			},
			{
				Name: "customers",
				Request: Request{
					Method:  "GET",
					BaseURL: "https://api.example.com/base/",
					Path:    "/v1/customers/events",
					Query:   map[string]string{"from": "{start}", "to": "{end}", "limit_hint": "5"},
					Timeout: DefaultTimeout,
				},
				Pagination: Pagination{
					Type: Cursor, CursorParam: "cursor", CursorPath: "meta.next_cursor", SizeParam: "limit", PageSize: 50,
					MaxPages: DefaultMaxPages,
				},
				Records:   Records{Path: "items"},
				Partition: Partition{Every: Hour, Lookback: 1},
				Retry:     defaultRetry,
				Output:    defaultOutput,
			},
			{
				Name:       "zero_based",
				Request:    Request{Method: "GET", BaseURL: "http://127.0.0.1:48003", Path: "/v1/events/{date}", Timeout: DefaultTimeout},
				Pagination: Pagination{Type: PageNumber, PageParam: "page", StartPage: 0, MaxPages: DefaultMaxPages, Concurrency: 1},
				Partition:  Partition{Every: Day, Lookback: 1},
				Retry:      defaultRetry,
				Output:     defaultOutput,
			},
			{
				Name:       "snapshot",
				Request:    Request{Method: "GET", BaseURL: "http://127.0.0.1:48003", Path: "/v1/snapshot", Timeout: DefaultTimeout},
				Pagination: Pagination{Type: NoPagination, MaxPages: DefaultMaxPages},
				Records:    Records{Path: "@this"},
				Partition:  Partition{Every: Day, Lookback: 1},
				Retry:      defaultRetry,
				Output:     defaultOutput,
			},
		},
		File: "testdata/valid.yaml",
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load:\n got %+v\nwant %+v", c, want)
	}

	for _, name := range []string{"orders", "customers", "zero_based", "snapshot"} {
		s, ok := c.Source(name)
		if !ok || s.Name != name {
			t.Errorf("Source(%q) = %v, %v", name, s, ok)
		}
	}
	if s, ok := c.Source("nope"); ok || s != nil {
		t.Errorf("Source(nope) = %v, %v; want nil, false", s, ok)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "absent.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(absent) = %v, want fs.ErrNotExist", err)
	}
}

// TestParseInvalid checks each file under testdata/invalid against the
// directives in its comments:
//
//	# want: <substring>     must appear in the error, after the previous want
//	# notwant: <substring>  must not appear
//	# wantcount: <n>        number of problems reported
func TestParseInvalid(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			c, err := Parse(filepath.Base(file), data)
			if err == nil {
				t.Fatalf("Parse = %+v, want an error", c)
			}
			var verr *ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("error %T is not a *ValidationError: %v", err, err)
			}
			msg := err.Error()
			pos := 0
			for _, line := range strings.Split(string(data), "\n") {
				directive, arg, ok := strings.Cut(strings.TrimPrefix(line, "# "), ": ")
				if !ok || !strings.HasPrefix(line, "# ") {
					continue
				}
				switch directive {
				case "want":
					i := strings.Index(msg[pos:], arg)
					if i < 0 {
						t.Errorf("error lacks %q (in this order):\n%s", arg, msg)
						continue
					}
					pos += i + len(arg)
				case "notwant":
					if strings.Contains(msg, arg) {
						t.Errorf("error has %q:\n%s", arg, msg)
					}
				case "wantcount":
					if n, _ := strconv.Atoi(arg); len(verr.Problems) != n {
						t.Errorf("%d problems, want %d:\n%s", len(verr.Problems), n, msg)
					}
				}
			}
		})
	}
}

func TestParseDefaults(t *testing.T) {
	const head = "version: 1\nsources:\n  - name: s\n    request: {base_url: \"http://x\", path: /p}\n    partition: {every: day}\n"
	tests := []struct {
		name       string
		pagination string
		want       Pagination
	}{
		{"page_number defaults", "{type: page_number}",
			Pagination{Type: PageNumber, PageParam: "page", StartPage: 1, MaxPages: DefaultMaxPages, Concurrency: 1}},
		{"start_page zero kept", "{type: page_number, start_page: 0, page_param: p}",
			Pagination{Type: PageNumber, PageParam: "p", StartPage: 0, MaxPages: DefaultMaxPages, Concurrency: 1}},
		{"page_number with a page count is concurrent", "{type: page_number, total_pages_path: pages}",
			Pagination{Type: PageNumber, PageParam: "page", StartPage: 1, TotalPagesPath: "pages", MaxPages: DefaultMaxPages, Concurrency: DefaultConcurrency}},
		{"offset with a total is concurrent", "{type: offset, page_size: 10, total_path: total}",
			Pagination{Type: Offset, OffsetParam: "offset", SizeParam: "limit", PageSize: 10, TotalPath: "total", MaxPages: DefaultMaxPages, Concurrency: DefaultConcurrency}},
		{"offset without a total is serial", "{type: offset, page_size: 10}",
			Pagination{Type: Offset, OffsetParam: "offset", SizeParam: "limit", PageSize: 10, MaxPages: DefaultMaxPages, Concurrency: 1}},
		{"concurrency given is kept", "{type: page_number, total_path: total, concurrency: 1}",
			Pagination{Type: PageNumber, PageParam: "page", StartPage: 1, TotalPath: "total", MaxPages: DefaultMaxPages, Concurrency: 1}},
		{"cursor gets no page defaults", "{type: cursor, cursor_param: c, cursor_path: n, max_pages: 7}",
			Pagination{Type: Cursor, CursorParam: "c", CursorPath: "n", MaxPages: 7}},
		{"null is as if left out", "{type: page_number, start_page: null, max_pages: ~}",
			Pagination{Type: PageNumber, PageParam: "page", StartPage: 1, MaxPages: DefaultMaxPages, Concurrency: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("p.yaml", []byte(head+"    pagination: "+tt.pagination+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Sources[0].Pagination; got != tt.want {
				t.Errorf("pagination = %+v, want %+v", got, tt.want)
			}
			if got := c.Sources[0].Request.Timeout; got != DefaultTimeout {
				t.Errorf("timeout = %v, want %v", got, DefaultTimeout)
			}
		})
	}
}

func TestParseAnchors(t *testing.T) {
	const y = `
version: 1
sources:
  - name: a
    request: &req {base_url: "http://x", path: /a, query: {day: "{date}"}}
    pagination: &pg {type: none}
    partition: &day {every: day}
  - name: b
    request: *req
    pagination: *pg
    partition: *day
`
	c, err := Parse("p.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Sources[0].Request, c.Sources[1].Request) {
		t.Errorf("aliased request differs: %+v vs %+v", c.Sources[0].Request, c.Sources[1].Request)
	}
}

// TestLoadSources checks the parts of the format beyond valid.yaml: every
// pagination style, auth kind, templating, rate limits and retries, and the
// defaults they get.
func TestLoadSources(t *testing.T) {
	c, err := Load("testdata/sources.yaml")
	if err != nil {
		t.Fatal(err)
	}
	get := func(name string) *Source {
		s, ok := c.Source(name)
		if !ok {
			t.Fatalf("no source %s", name)
		}
		return s
	}
	s := get("pages_post")
	if s.Request.Method != "POST" || s.Request.Body == "" {
		t.Errorf("request = %+v", s.Request)
	}
	// {page} and {limit} are in the body: no page or size parameter.
	if want := (Pagination{Type: PageNumber, StartPage: 1, PageSize: 50, TotalPath: "meta.total", MaxPages: DefaultMaxPages, Concurrency: DefaultConcurrency}); s.Pagination != want {
		t.Errorf("pages_post pagination = %+v, want %+v", s.Pagination, want)
	}
	if want := (Auth{Type: APIKey, In: "header", Name: "X-API-Key", Key: "env:EXAMPLE_KEY"}); !reflect.DeepEqual(s.Auth, want) {
		t.Errorf("pages_post auth = %+v, want %+v", s.Auth, want)
	}
	if want := (RateLimit{RequestsPerSecond: 0.5, Burst: 1}); s.RateLimit != want {
		t.Errorf("pages_post rate_limit = %+v, want %+v", s.RateLimit, want)
	}
	if want := (Retry{MaxAttempts: 5, BaseDelay: 2 * time.Second, MaxDelay: DefaultMaxDelay, MaxRetryAfter: DefaultMaxRetryAfter, MaxWait: DefaultMaxWait}); s.Retry != want {
		t.Errorf("pages_post retry = %+v, want %+v", s.Retry, want)
	}

	s = get("offsets")
	if want := (Pagination{Type: Offset, OffsetParam: "offset", SizeParam: "limit", PageSize: 200, TotalPath: "total", MaxPages: DefaultMaxPages, Concurrency: DefaultConcurrency}); s.Pagination != want {
		t.Errorf("offsets pagination = %+v, want %+v", s.Pagination, want)
	}
	if s.Auth.In != "query" || s.RateLimit != (RateLimit{RequestsPerSecond: 10, Burst: 5}) || s.Request.Method != "GET" {
		t.Errorf("offsets = %+v", s)
	}
	if scheme, name, key, err := s.Auth.Key.Parse(); scheme != "secretsmanager" || key != "api_key" || err != nil || name == "" {
		t.Errorf("offsets key = %q %q %q %v", scheme, name, key, err)
	}

	s = get("cursors")
	if s.Pagination.CursorParam != "" || !s.Request.Uses("cursor") || s.Pagination.SizeParam != "count" {
		t.Errorf("cursors pagination = %+v", s.Pagination)
	}
	s = get("links")
	if s.Pagination.NextURLPath != "links.next" || s.Auth.Type != Basic || s.RateLimit != (RateLimit{}) {
		t.Errorf("links = %+v", s)
	}
	s = get("headers")
	if s.Pagination.Type != LinkHeader || s.Pagination.MaxPages != 50 || !reflect.DeepEqual(s.Auth.Scopes, []string{"read", "reports:read"}) ||
		s.Retry.MaxRetryAfter != 10*time.Minute || s.Retry.MaxWait != 10*time.Minute {
		t.Errorf("headers = %+v", s)
	}
}

// TestReferenceExamples parses the complete configs of the README's
// config reference, so that the documentation stays true.
func TestReferenceExamples(t *testing.T) {
	doc, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, block := range strings.Split(string(doc), "```yaml\n")[1:] {
		block, _, _ = strings.Cut(block, "```")
		if !strings.HasPrefix(block, "version: 1") || strings.Contains(block, "{...}") { // an outline
			continue
		}
		n++
		if _, err := Parse("README.md", []byte(block)); err != nil {
			t.Errorf("example %d: %v", n, err)
		}
	}
	if n == 0 {
		t.Error("no complete config in README.md")
	}
}
