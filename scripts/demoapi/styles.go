package demoapi

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// serveData serves GET|POST /v1/{source} for every style but cursor.
func (s *Server) serveData(w http.ResponseWriter, r *http.Request) {
	req, ok := s.begin(w, r, PageNumber, Offset, NextURL, LinkHeader, NoPagination)
	if !ok {
		return
	}
	switch req.so.Style {
	case PageNumber:
		s.servePageNumber(w, req)
	case Offset:
		s.serveOffset(w, req)
	case NextURL:
		s.serveNextURL(w, r, req)
	case LinkHeader:
		s.serveLinkHeader(w, r, req)
	case NoPagination:
		n := req.count()
		s.respond(w, req, req.appendRecords(make([]byte, 0, 2+n*400), 0, n))
	}
}

// servePageNumber: ?page=1&per_page=100 →
// {"data":[...],"page":1,"per_page":100,"total_pages":3}
func (s *Server) servePageNumber(w http.ResponseWriter, req *request) {
	page, ok := intParam(w, req.params, "page", 1, 1, 1<<30)
	if !ok {
		return
	}
	size, ok := intParam(w, req.params, "per_page", s.pageSize, 1, MaxPageSize)
	if !ok {
		return
	}
	n := req.count()
	total := (n + size - 1) / size
	from := min((page-1)*size, n)
	to := min(from+size, n)
	body := make([]byte, 0, 64+(to-from)*400)
	body = append(body, `{"data":`...)
	body = req.appendRecords(body, from, to)
	body = fmt.Appendf(body, `,"page":%d,"per_page":%d`, page, size)
	if !req.so.OmitTotal {
		body = fmt.Appendf(body, `,"total_pages":%d`, total)
	}
	body = append(body, '}')
	s.respond(w, req, body)
}

// serveOffset: ?offset=0&limit=100 →
// {"results":[...],"offset":0,"limit":100,"total":250}
func (s *Server) serveOffset(w http.ResponseWriter, req *request) {
	n := req.count()
	offset, ok := intParam(w, req.params, "offset", 0, 0, 1<<30)
	if !ok {
		return
	}
	size, ok := intParam(w, req.params, "limit", s.pageSize, 1, MaxPageSize)
	if !ok {
		return
	}
	from := min(offset, n)
	to := min(from+size, n)
	body := make([]byte, 0, 64+(to-from)*400)
	body = append(body, `{"results":`...)
	body = req.appendRecords(body, from, to)
	body = fmt.Appendf(body, `,"offset":%d,"limit":%d`, offset, size)
	if !req.so.OmitTotal {
		body = fmt.Appendf(body, `,"total":%d`, n)
	}
	body = append(body, '}')
	s.respond(w, req, body)
}

// serveCursor serves GET|POST /v1/{source}/events: ?cursor=C&limit=100 →
// {"items":[...],"next_cursor":"C2"}, without next_cursor on the last page.
func (s *Server) serveCursor(w http.ResponseWriter, r *http.Request) {
	req, ok := s.begin(w, r, Cursor)
	if !ok {
		return
	}
	size, ok := intParam(w, req.params, "limit", s.pageSize, 1, MaxPageSize)
	if !ok {
		return
	}
	from, ok := s.cursorParam(w, req, "cursor")
	if !ok {
		return
	}
	n := req.count()
	to := min(from+size, n)
	body := make([]byte, 0, 64+(to-from)*400)
	body = append(body, `{"items":`...)
	body = req.appendRecords(body, from, to)
	if to < n {
		body = fmt.Appendf(body, `,"next_cursor":%q`, encodeCursor(req.name, req.scope(), to))
	}
	body = append(body, '}')
	s.respond(w, req, body)
}

// serveNextURL: ?limit=100[&page_token=T] →
// {"data":[...],"links":{"next":"http://host/v1/s?day=…&limit=100&page_token=T2"}}
// with "next": null on the last page.
func (s *Server) serveNextURL(w http.ResponseWriter, r *http.Request, req *request) {
	size, ok := intParam(w, req.params, "limit", s.pageSize, 1, MaxPageSize)
	if !ok {
		return
	}
	from, ok := s.cursorParam(w, req, "page_token")
	if !ok {
		return
	}
	n := req.count()
	to := min(from+size, n)
	body := make([]byte, 0, 128+(to-from)*400)
	body = append(body, `{"data":`...)
	body = req.appendRecords(body, from, to)
	body = append(body, `,"links":{"next":`...)
	if to < n {
		q := req.bounds(url.Values{"limit": {strconv.Itoa(size)}, "page_token": {encodeCursor(req.name, req.scope(), to)}})
		next := req.so.link(r, q)
		if req.so.RelativeNext {
			next = "/v1/" + req.name + "?" + q.Encode()
		}
		body = fmt.Appendf(body, `%q`, next)
	} else {
		body = append(body, "null"...)
	}
	body = append(body, `}}`...)
	s.respond(w, req, body)
}

// serveLinkHeader: ?page=2&per_page=100 → a bare array of records, and
//
//	Link: <…page=1…>; rel="first", <…page=1…>; rel="prev"; title="back, one"
//	Link: <…page=3…>; rel="next", <…page=3…>; rel=last
//
// in two header lines, with no next on the last page.
func (s *Server) serveLinkHeader(w http.ResponseWriter, r *http.Request, req *request) {
	page, ok := intParam(w, req.params, "page", 1, 1, 1<<30)
	if !ok {
		return
	}
	size, ok := intParam(w, req.params, "per_page", s.pageSize, 1, MaxPageSize)
	if !ok {
		return
	}
	n := req.count()
	last := max(1, (n+size-1)/size)
	from := min((page-1)*size, n)
	to := min(from+size, n)
	at := func(p int) string {
		return req.so.link(r, req.bounds(url.Values{"page": {strconv.Itoa(p)}, "per_page": {strconv.Itoa(size)}}))
	}
	first := fmt.Sprintf(`<%s>; rel="first"`, at(1))
	if page > 1 {
		first += fmt.Sprintf(`, <%s>; rel="prev"; title="back, one"`, at(page-1))
	}
	w.Header().Add("Link", first)
	var rest []string
	if page < last {
		rest = append(rest, fmt.Sprintf(`<%s>; rel="next"`, at(page+1)))
	}
	rest = append(rest, fmt.Sprintf(`<%s>; rel=last`, at(last)))
	w.Header().Add("Link", strings.Join(rest, ", "))
	s.respond(w, req, req.appendRecords(make([]byte, 0, 2+(to-from)*400), from, to))
}

// link returns the absolute URL of the source's route with query q, on the
// server's own host or on NextHost. An api key sent in the query is sent
// back in the link, as some APIs do: a client must not keep it.
func (so SourceOptions) link(r *http.Request, q url.Values) string {
	if so.Auth == AuthAPIKeyQuery {
		q.Set(APIKeyParam, r.URL.Query().Get(APIKeyParam))
	}
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if so.NextHost != "" {
		host = so.NextHost
	}
	return (&url.URL{Scheme: scheme, Host: host, Path: r.URL.Path, RawQuery: q.Encode()}).String()
}

// cursorParam reads an opaque cursor parameter; 0 when absent.
func (s *Server) cursorParam(w http.ResponseWriter, req *request, name string) (int, bool) {
	c := req.params.Get(name)
	if c == "" {
		return 0, true
	}
	from, ok := decodeCursor(c, req.name, req.scope())
	if !ok || from > req.count() {
		writeError(w, http.StatusBadRequest, "invalid "+name)
		return 0, false
	}
	return from, true
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
func encodeCursor(source, scope string, offset int) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%s|%s|%d", source, scope, offset))
}

func decodeCursor(c, source, scope string) (int, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, false
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) != 3 || parts[0] != source || parts[1] != scope {
		return 0, false
	}
	off, err := strconv.Atoi(parts[2])
	return off, err == nil && off >= 0
}
