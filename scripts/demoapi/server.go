package demoapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Style is how a source pages its records.
type Style string

// The pagination styles served, named as pipeline's pagination types.
const (
	PageNumber   Style = "page_number"
	Offset       Style = "offset"
	Cursor       Style = "cursor"
	NextURL      Style = "next_url"
	LinkHeader   Style = "link_header"
	NoPagination Style = "none"
)

// Defaults for Options.
const (
	DefaultRecordsPerDay = 250
	DefaultPageSize      = 100
	// MaxPageSize is the largest page a client may ask for.
	MaxPageSize = 10000
	// DefaultTokenTTL is the lifetime of an OAuth2 token.
	DefaultTokenTTL = time.Hour
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
	// OmitTotal drops total_pages (page_number) or total (offset) from the
	// responses, as many APIs do: clients then page until an empty page.
	OmitTotal bool
	// Method is the method data requests must use: GET (default) or POST,
	// in which case the parameters may come in a JSON object body as well
	// as in the query (the body wins).
	Method string
	// Auth is the credentials the source requires; AuthNone by default.
	Auth AuthKind
	// TokenUses, with AuthOAuth2, makes the source refuse a token with 401
	// once it has been used this many times, as if it had been revoked, so
	// that a client must fetch a new one mid-walk. 0: no limit.
	TokenUses int
	// RelativeNext makes next_url links relative ("/v1/…") rather than
	// absolute.
	RelativeNext bool
	// NextHost, if set, is the host:port next_url and link_header links
	// point to instead of the server's own: a hostile or misconfigured API
	// sending the client elsewhere.
	NextHost string
	// FailStatus, if not 0, is the status of every response for the source
	// until SetFailure changes it.
	FailStatus int
	// Fail, if set, is injected at start, as Inject would.
	Fail *Failure
	// Delay is added to every response for the source, to stand for a slow
	// API (and to give tests time to crash a worker mid-fetch).
	Delay time.Duration
	// Slices, above 1, configures the source (PipelineYAML) as a
	// time-filtered API cut into that many slices a day: its requests send
	// since={start:unix}&until={end:unix} (see timefilter.go) and its
	// partition has slices: Slices. The server filters any source so.
	Slices int
	// Quota, if set, limits the source's data requests per period, as
	// hourly API quotas do.
	Quota *Quota
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
	sources  map[string]SourceOptions // resolved: Style, Method and RecordsPerDay set
	tokenTTL time.Duration
	mux      *http.ServeMux

	mu            sync.Mutex
	failures      map[string]failure
	requests      map[string]int
	tokens        map[string]*token
	tokenRequests int
	quotas        map[string]*quotaUse
	served        map[string]Served
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
		tokenTTL: DefaultTokenTTL,
		mux:      http.NewServeMux(),
		failures: map[string]failure{},
		requests: map[string]int{},
		tokens:   map[string]*token{},
		quotas:   map[string]*quotaUse{},
		served:   map[string]Served{},
	}
	for name, so := range opts.Sources {
		if so.Style == "" {
			so.Style = PageNumber
		}
		if so.Method == "" {
			so.Method = http.MethodGet
		}
		switch {
		case so.RecordsPerDay == 0:
			so.RecordsPerDay = opts.RecordsPerDay
		case so.RecordsPerDay < 0:
			so.RecordsPerDay = 0
		}
		switch {
		case so.Fail != nil:
			s.failures[name] = newFailure(*so.Fail)
		case so.FailStatus != 0:
			s.failures[name] = newFailure(Failure{Status: so.FailStatus})
		}
		s.sources[name] = so
	}
	for _, m := range []string{"GET", "POST"} {
		s.mux.HandleFunc(m+" /v1/{source}", s.serveData)
		s.mux.HandleFunc(m+" /v1/{source}/events", s.serveCursor)
	}
	s.mux.HandleFunc("POST /oauth/token", s.serveToken)
	s.mux.HandleFunc("POST /admin/fail", s.serveFail)
	s.mux.HandleFunc("GET /admin/requests", s.serveRequests)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no route for "+r.Method+" "+r.URL.Path)
	})
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// SetTokenTTL sets the lifetime of the OAuth2 tokens issued from now on
// (their expires_in); default an hour.
func (s *Server) SetTokenTTL(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenTTL = d
}

// Served is how the server answered the data requests of one source.
type Served struct {
	// Pages is the requests answered with a page of records (200, body
	// intact): what a client fetched.
	Pages int
	// Injected is the requests answered with an injected error status
	// (Inject, SetFailure, FailNext, SourceOptions.Fail or FailStatus).
	Injected int
	// OverQuota is the requests refused with 429 by the source's Quota.
	OverQuota int
	// QuotaPeriods is the periods of the source's Quota begun so far: one
	// at the first request, one more at each first request after a period
	// ended.
	QuotaPeriods int
}

// Served returns how the server answered source's data requests so far.
func (s *Server) Served(source string) Served {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.served[source]
}

// count applies add to source's Served; s.mu is held.
func (s *Server) count(source string, add func(*Served)) {
	c := s.served[source]
	add(&c)
	s.served[source] = c
}

// Requests returns how many data requests the server received for source,
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

// request is a data request under way.
type request struct {
	name   string
	so     SourceOptions
	params url.Values // query, overlaid with a POST's JSON body
	day    string
	span   *span    // the time filter; nil: the whole day
	ids    []int    // the indexes of the day's records the span keeps
	fail   *Failure // a body failure to apply to the response
}

// count is how many records the request pages through.
func (r *request) count() int {
	if r.span == nil {
		return r.so.RecordsPerDay
	}
	return len(r.ids)
}

// appendRecords appends the JSON array of the records [from, to) of those
// the request pages through.
func (r *request) appendRecords(b []byte, from, to int) []byte {
	if r.span == nil {
		return appendRecords(b, r.name, r.day, from, to)
	}
	b = append(b, '[')
	for i := from; i < to; i++ {
		if i > from {
			b = append(b, ',')
		}
		b = append(b, record(r.name, r.day, r.ids[i])...)
	}
	return append(b, ']')
}

// scope names what the request pages through in its cursors: the day, or
// the day and its time filter.
func (r *request) scope() string {
	if r.span == nil {
		return r.day
	}
	return r.span.scope
}

// bounds sets the day, or the time filter, of a link's query q.
func (r *request) bounds(q url.Values) url.Values {
	if r.span == nil {
		q.Set("day", r.day)
		return q
	}
	q.Set("since", r.params.Get("since"))
	q.Set("until", r.params.Get("until"))
	return q
}

// begin resolves the source of a data request in one of the given styles,
// counts the request, applies any injected status failure and checks the
// credentials. It reports whether the handler should go on.
func (s *Server) begin(w http.ResponseWriter, r *http.Request, styles ...Style) (*request, bool) {
	name := r.PathValue("source")
	so, ok := s.sources[name]
	if !ok || !hasStyle(styles, so.Style) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown source %q", name))
		return nil, false
	}
	s.mu.Lock()
	s.requests[name]++
	if wait := s.overQuota(name, so.Quota, time.Now()); wait > 0 {
		s.count(name, func(c *Served) { c.OverQuota++ })
		s.mu.Unlock()
		w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		writeError(w, http.StatusTooManyRequests, "quota exhausted")
		return nil, false
	}
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
			return nil, false
		}
	}
	if failing && f.Status != 0 && f.Body == "" {
		s.mu.Lock()
		s.count(name, func(c *Served) { c.Injected++ })
		s.mu.Unlock()
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		writeError(w, f.Status, "injected failure")
		return nil, false
	}
	if r.Method != so.Method {
		w.Header().Set("Allow", so.Method)
		writeError(w, http.StatusMethodNotAllowed, "use "+so.Method)
		return nil, false
	}
	if !s.authorized(w, r, so) {
		return nil, false
	}
	params, err := requestParams(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return nil, false
	}
	day, sp, ok := timeFilter(w, params)
	if !ok {
		return nil, false
	}
	req := &request{name: name, so: so, params: params, day: day, span: sp, ids: sp.indexes(name, day, so.RecordsPerDay)}
	if failing && f.Body != "" {
		req.fail = &f.Failure
	}
	return req, true
}

func hasStyle(styles []Style, s Style) bool {
	for _, st := range styles {
		if st == s {
			return true
		}
	}
	return false
}

// requestParams returns the query of r overlaid with the members of its
// JSON object body, if any: strings as they are, other values as their
// JSON text; null as absent.
func requestParams(r *http.Request) (url.Values, error) {
	q := r.URL.Query()
	if r.Method != http.MethodPost || r.ContentLength == 0 {
		return q, nil
	}
	var body map[string]json.RawMessage
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20)).Decode(&body); err != nil {
		return nil, fmt.Errorf("body: want a JSON object: %v", err)
	}
	for k, raw := range body {
		var s string
		switch {
		case string(raw) == "null":
			q.Del(k)
			continue
		case json.Unmarshal(raw, &s) == nil:
		default:
			s = string(raw)
		}
		q.Set(k, s)
	}
	return q, nil
}

// dayParam reads the day of a request: day=2026-11-01, or since=<unix
// seconds> at midnight UTC.
func dayParam(w http.ResponseWriter, q url.Values) (string, bool) {
	day := q.Get("day")
	if since := q.Get("since"); day == "" && since != "" {
		secs, err := strconv.ParseInt(since, 10, 64)
		t := time.Unix(secs, 0).UTC()
		if err != nil || !t.Equal(t.Truncate(24*time.Hour)) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid since %q (want unix seconds at midnight UTC)", since))
			return "", false
		}
		day = t.Format(time.DateOnly)
	}
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

func intParam(w http.ResponseWriter, q url.Values, name string, def, lo, hi int) (int, bool) {
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

// respond writes a data response, spoilt as req.fail asks.
func (s *Server) respond(w http.ResponseWriter, req *request, body []byte) {
	if req.fail == nil {
		s.mu.Lock()
		s.count(req.name, func(c *Served) { c.Pages++ })
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, body)
		return
	}
	status := req.fail.Status
	if status == 0 {
		status = http.StatusOK
	}
	switch req.fail.Body {
	case Truncated:
		// Announce the whole body, send half: the client reads an
		// unexpected EOF when the server closes the connection.
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		_, _ = w.Write(body[:len(body)/2])
	case NotJSON:
		page := []byte("<html><body><h1>502 Bad Gateway</h1>upstream hiccup</body></html>")
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Length", strconv.Itoa(len(page)))
		w.WriteHeader(status)
		_, _ = w.Write(page)
	}
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
