package demoapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Style is how a source pages its records.
type Style string

// The pagination styles served.
const (
	PageNumber Style = "page_number"
	Cursor     Style = "cursor"
)

// Defaults for Options.
const (
	DefaultRecordsPerDay = 250
	DefaultPageSize      = 100
	// MaxPageSize is the largest page a client may ask for.
	MaxPageSize = 10000
)

// Options configures a Server. The zero value serves DefaultSources.
type Options struct {
	RecordsPerDay int                      // per source and day; default 250
	PageSize      int                      // when the request asks for none; default 100
	Sources       map[string]SourceOptions // nil: DefaultSources()
}

// SourceOptions configures one source.
type SourceOptions struct {
	Style         Style // default PageNumber
	RecordsPerDay int   // 0: Options.RecordsPerDay; negative: none, an empty day
	// OmitTotal drops total_pages from page_number responses, as many APIs
	// do: clients then page until they get an empty page.
	OmitTotal bool
	// FailStatus, if not 0, is the status of every response for the source
	// until SetFailure changes it.
	FailStatus int
	// Delay is added to every response for the source, to stand for a slow
	// API (and to give tests time to crash a worker mid-fetch).
	Delay time.Duration
}

// DefaultSources returns the demo's sources: orders (page_number with
// total_pages), customers (cursor) and events (page_number without
// total_pages).
func DefaultSources() map[string]SourceOptions {
	return map[string]SourceOptions{
		"orders":    {Style: PageNumber},
		"customers": {Style: Cursor},
		"events":    {Style: PageNumber, OmitTotal: true},
	}
}

// Server is the demo API. It is an http.Handler, safe for concurrent use.
type Server struct {
	pageSize int
	sources  map[string]SourceOptions // resolved: Style and RecordsPerDay set
	mux      *http.ServeMux

	mu       sync.Mutex
	failures map[string]failure
	requests map[string]int
}

type failure struct {
	status    int
	remaining int // requests left to fail; -1 until cleared
}

// New returns a Server for opts.
func New(opts Options) *Server {
	if opts.RecordsPerDay <= 0 {
		opts.RecordsPerDay = DefaultRecordsPerDay
	}
	if opts.PageSize <= 0 {
		opts.PageSize = DefaultPageSize
	}
	if opts.Sources == nil {
		opts.Sources = DefaultSources()
	}
	s := &Server{
		pageSize: min(opts.PageSize, MaxPageSize),
		sources:  make(map[string]SourceOptions, len(opts.Sources)),
		mux:      http.NewServeMux(),
		failures: map[string]failure{},
		requests: map[string]int{},
	}
	for name, so := range opts.Sources {
		if so.Style == "" {
			so.Style = PageNumber
		}
		switch {
		case so.RecordsPerDay == 0:
			so.RecordsPerDay = opts.RecordsPerDay
		case so.RecordsPerDay < 0:
			so.RecordsPerDay = 0
		}
		if so.FailStatus != 0 {
			s.failures[name] = failure{status: so.FailStatus, remaining: -1}
		}
		s.sources[name] = so
	}
	s.mux.HandleFunc("GET /v1/{source}", s.servePageNumber)
	s.mux.HandleFunc("GET /v1/{source}/events", s.serveCursor)
	s.mux.HandleFunc("POST /admin/fail", s.serveFail)
	s.mux.HandleFunc("GET /admin/requests", s.serveRequests)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no route for "+r.Method+" "+r.URL.Path)
	})
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// SetFailure makes every request for source answer status until it is
// called again; status 0 clears the failure.
func (s *Server) SetFailure(source string, status int) {
	s.FailNext(source, status, -1)
}

// FailNext makes the next n requests for source answer status, after which
// the source serves normally again; n < 0 means until cleared, and status 0
// clears the failure.
func (s *Server) FailNext(source string, status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if status == 0 || n == 0 {
		delete(s.failures, source)
		return
	}
	s.failures[source] = failure{status: status, remaining: n}
}

// Requests returns how many requests the server received for source,
// failed ones included.
func (s *Server) Requests(source string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[source]
}

// RecordsFor returns the records source serves for day, in order; nil for
// an unknown source.
func (s *Server) RecordsFor(source, day string) [][]byte {
	so, ok := s.sources[source]
	if !ok {
		return nil
	}
	return Records(source, day, so.RecordsPerDay)
}

// begin resolves the source of a data request in the given style, counts the
// request and applies any injected failure. It reports whether the handler
// should go on.
func (s *Server) begin(w http.ResponseWriter, r *http.Request, style Style) (string, SourceOptions, bool) {
	name := r.PathValue("source")
	so, ok := s.sources[name]
	if !ok || so.Style != style {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown source %q", name))
		return "", so, false
	}
	s.mu.Lock()
	s.requests[name]++
	f, failing := s.failures[name]
	if failing && f.remaining > 0 {
		if f.remaining--; f.remaining == 0 {
			delete(s.failures, name)
		} else {
			s.failures[name] = f
		}
	}
	s.mu.Unlock()
	if so.Delay > 0 {
		select {
		case <-time.After(so.Delay):
		case <-r.Context().Done():
			return "", so, false
		}
	}
	if failing {
		writeError(w, f.status, "injected failure")
		return "", so, false
	}
	return name, so, true
}

func (s *Server) servePageNumber(w http.ResponseWriter, r *http.Request) {
	name, so, ok := s.begin(w, r, PageNumber)
	if !ok {
		return
	}
	q := r.URL.Query()
	day, ok := dayParam(w, q.Get("day"))
	if !ok {
		return
	}
	page, ok := intParam(w, q, "page", 1, 1, 1<<30)
	if !ok {
		return
	}
	size, ok := intParam(w, q, "per_page", s.pageSize, 1, MaxPageSize)
	if !ok {
		return
	}
	n := so.RecordsPerDay
	total := (n + size - 1) / size
	from := min((page-1)*size, n)
	body := make([]byte, 0, 64+(min(from+size, n)-from)*400)
	body = append(body, `{"data":`...)
	body = appendRecords(body, name, day, from, min(from+size, n))
	body = fmt.Appendf(body, `,"page":%d,"per_page":%d`, page, size)
	if !so.OmitTotal {
		body = fmt.Appendf(body, `,"total_pages":%d`, total)
	}
	body = append(body, '}')
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) serveCursor(w http.ResponseWriter, r *http.Request) {
	name, so, ok := s.begin(w, r, Cursor)
	if !ok {
		return
	}
	q := r.URL.Query()
	day, ok := dayParam(w, q.Get("day"))
	if !ok {
		return
	}
	size, ok := intParam(w, q, "limit", s.pageSize, 1, MaxPageSize)
	if !ok {
		return
	}
	n := so.RecordsPerDay
	from := 0
	if c := q.Get("cursor"); c != "" {
		if from, ok = decodeCursor(c, name, day); !ok || from > n {
			writeError(w, http.StatusBadRequest, "invalid cursor")
			return
		}
	}
	to := min(from+size, n)
	body := make([]byte, 0, 64+(to-from)*400)
	body = append(body, `{"items":`...)
	body = appendRecords(body, name, day, from, to)
	if to < n {
		body = fmt.Appendf(body, `,"next_cursor":%q`, encodeCursor(name, day, to))
	}
	body = append(body, '}')
	writeJSON(w, http.StatusOK, body)
}

// appendRecords appends the JSON array of records [from, to) of source and
// day: the raw records joined, never re-marshalled.
func appendRecords(b []byte, source, day string, from, to int) []byte {
	b = append(b, '[')
	for i := from; i < to; i++ {
		if i > from {
			b = append(b, ',')
		}
		b = append(b, record(source, day, i)...)
	}
	return append(b, ']')
}

// Cursors are opaque to clients; they carry the next offset and the source
// and day they belong to, so that a cursor used elsewhere is rejected.
func encodeCursor(source, day string, offset int) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%s|%s|%d", source, day, offset))
}

func decodeCursor(c, source, day string) (int, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, false
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) != 3 || parts[0] != source || parts[1] != day {
		return 0, false
	}
	off, err := strconv.Atoi(parts[2])
	return off, err == nil && off >= 0
}

func dayParam(w http.ResponseWriter, day string) (string, bool) {
	if day == "" {
		writeError(w, http.StatusBadRequest, "missing day (want YYYY-MM-DD)")
		return "", false
	}
	if t, err := time.Parse(time.DateOnly, day); err != nil || t.Format(time.DateOnly) != day {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid day %q (want YYYY-MM-DD)", day))
		return "", false
	}
	return day, true
}

func intParam(w http.ResponseWriter, q map[string][]string, name string, def, lo, hi int) (int, bool) {
	vs := q[name]
	if len(vs) == 0 || vs[0] == "" {
		return def, true
	}
	v, err := strconv.Atoi(vs[0])
	if err != nil || v < lo || v > hi {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid %s %q (want %d to %d)", name, vs[0], lo, hi))
		return 0, false
	}
	return v, true
}

func (s *Server) serveFail(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	source := q.Get("source")
	if _, ok := s.sources[source]; !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown source %q", source))
		return
	}
	status, err := strconv.Atoi(q.Get("status"))
	if err != nil || status != 0 && (status < 400 || status > 599) {
		writeError(w, http.StatusBadRequest, "status must be 0 (clear) or 400 to 599")
		return
	}
	count := -1
	if c := q.Get("count"); c != "" {
		if count, err = strconv.Atoi(c); err != nil || count < 1 {
			writeError(w, http.StatusBadRequest, "count must be at least 1")
			return
		}
	}
	s.FailNext(source, status, count)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) serveRequests(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	counts := make(map[string]int, len(s.sources))
	for name := range s.sources {
		counts[name] = s.requests[name]
	}
	s.mu.Unlock()
	body, _ := json.Marshal(counts) // a map[string]int always marshals
	writeJSON(w, http.StatusOK, body)
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client went away; nothing to do
}

func writeError(w http.ResponseWriter, status int, msg string) {
	body, _ := json.Marshal(map[string]any{"error": msg, "status": status})
	writeJSON(w, status, body)
}
