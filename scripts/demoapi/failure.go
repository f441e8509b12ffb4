package demoapi

import (
	"fmt"
	"net/http"
	"strconv"
)

// BodyFault spoils the body of a response.
type BodyFault string

// The body faults.
const (
	// Truncated announces the whole page in Content-Length and sends half
	// of it.
	Truncated BodyFault = "truncated"
	// NotJSON sends an HTML error page instead of the JSON page.
	NotJSON BodyFault = "not_json"
)

// Failure is a failure injected into a source's data responses.
type Failure struct {
	// Status is the status to answer with; with Body set, 0 means 200.
	Status int
	// RetryAfter is sent as the Retry-After header, as written: seconds
	// ("1") or an HTTP date (http.TimeFormat).
	RetryAfter string
	// Body, if set, spoils the page body instead of answering an error.
	Body BodyFault
	// Count is the number of requests that fail, after which the source
	// serves normally again; 0 or less: until cleared.
	Count int
}

type failure struct {
	Failure
	remaining int // requests left to fail; -1 until cleared
}

func newFailure(f Failure) failure {
	n := f.Count
	if n <= 0 {
		n = -1
	}
	return failure{Failure: f, remaining: n}
}

// Inject makes the next f.Count data requests for source fail as f says
// (all of them, until cleared, if f.Count is 0 or less). The zero Failure
// clears any failure.
func (s *Server) Inject(source string, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Status == 0 && f.Body == "" {
		delete(s.failures, source)
		return
	}
	s.failures[source] = newFailure(f)
}

// SetFailure makes every request for source answer status until it is
// called again; status 0 clears the failure.
func (s *Server) SetFailure(source string, status int) {
	s.FailNext(source, status, -1)
}

// FailNext makes the next n requests for source answer status, after which
// the source serves normally again; n < 0 means until cleared, and status 0
// clears the failure.
func (s *Server) FailNext(source string, status, n int) {
	if n == 0 {
		status = 0
	}
	s.Inject(source, Failure{Status: status, Count: n})
}

// serveFail is the admin endpoint for Inject:
//
//	POST /admin/fail?source=S&status=503[&count=2][&retry_after=1][&body=truncated|not_json]
func (s *Server) serveFail(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	source := q.Get("source")
	if _, ok := s.sources[source]; !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown source %q", source))
		return
	}
	f := Failure{RetryAfter: q.Get("retry_after"), Body: BodyFault(q.Get("body"))}
	switch f.Body {
	case "", Truncated, NotJSON:
	default:
		writeError(w, http.StatusBadRequest, "body must be truncated or not_json")
		return
	}
	var err error
	if v := q.Get("status"); v != "" || f.Body == "" {
		f.Status, err = strconv.Atoi(v)
		if err != nil || f.Status != 0 && (f.Status < 400 || f.Status > 599) && f.Body == "" {
			writeError(w, http.StatusBadRequest, "status must be 0 (clear) or 400 to 599")
			return
		}
	}
	if c := q.Get("count"); c != "" {
		if f.Count, err = strconv.Atoi(c); err != nil || f.Count < 1 {
			writeError(w, http.StatusBadRequest, "count must be at least 1")
			return
		}
	}
	s.Inject(source, f)
	w.WriteHeader(http.StatusNoContent)
}
