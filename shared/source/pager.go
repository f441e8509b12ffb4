package source

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/pipeline"
)

// pager builds the request for a State and reads from each response the
// State of the next page.
type pager struct {
	src    *pipeline.Source
	pg     pipeline.Pagination
	w      pipeline.Window
	slice  pipeline.Window // the time slice of w walked; zero: w whole
	origin *url.URL        // request.base_url: every URL requested keeps its scheme and host
	base   url.URL         // base_url without a trailing "/", to prepend to the path
	strip  string          // query parameter stripped from next URLs: the api key's
}

// outgoing is one request to make.
type outgoing struct {
	method  string
	url     *url.URL
	headers http.Header
	body    []byte // nil: none
}

func newPager(src *pipeline.Source, w pipeline.Window) (*pager, error) {
	base, err := url.Parse(src.Request.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("invalid base_url: want an absolute http or https URL")
	}
	p := &pager{src: src, pg: src.Pagination, w: w, origin: base, base: *base}
	switch p.pg.Type {
	case pipeline.PageNumber:
		if p.pg.PageParam == "" && !src.Request.Uses("page") {
			p.pg.PageParam = pipeline.DefaultPageParam
		}
	case pipeline.Offset:
		if p.pg.OffsetParam == "" && !src.Request.Uses("offset") {
			p.pg.OffsetParam = pipeline.DefaultOffsetParam
		}
		if p.pg.SizeParam == "" && !src.Request.Uses("limit") {
			p.pg.SizeParam = pipeline.DefaultLimitParam
		}
		if p.pg.PageSize <= 0 {
			return nil, fmt.Errorf("pagination type offset needs page_size")
		}
	case pipeline.Cursor:
		if (p.pg.CursorParam == "" && !src.Request.Uses("cursor")) || p.pg.CursorPath == "" {
			return nil, fmt.Errorf("pagination type cursor needs cursor_param and cursor_path")
		}
	case pipeline.NextURL:
		if p.pg.NextURLPath == "" {
			return nil, fmt.Errorf("pagination type next_url needs next_url_path")
		}
	case pipeline.LinkHeader, pipeline.NoPagination:
	default:
		return nil, fmt.Errorf("unknown pagination type %q", p.pg.Type)
	}
	p.base.Path = strings.TrimSuffix(base.Path, "/")
	p.base.RawPath = ""
	p.base.RawQuery = ""
	if src.Auth.Type == pipeline.APIKey && src.Auth.In == "query" {
		p.strip = src.Auth.Name
	}
	return p, nil
}

// request builds the request for the page at st.
func (p *pager) request(st State) (outgoing, error) {
	r := &p.src.Request
	v := pipeline.Vars{Window: p.w, Slice: p.slice, Page: st.Page, Offset: st.Offset, Limit: p.pg.PageSize, Cursor: st.Cursor}
	o := outgoing{method: r.Method, headers: http.Header{}}
	if o.method == "" {
		o.method = http.MethodGet
	}
	for k, t := range r.Headers {
		o.headers.Set(k, v.Expand(t))
	}
	if o.method == http.MethodPost && r.Body != "" {
		o.body = []byte(v.ExpandJSON(r.Body))
	}
	if st.NextURL != "" {
		u, err := url.Parse(st.NextURL)
		if err != nil {
			return outgoing{}, fault.Permanentf("invalid next URL in state")
		}
		if !sameOrigin(u, p.origin) { // checked when read already; never send one elsewhere
			return outgoing{}, fault.Permanentf("next URL on %s refused: not the host of request.base_url", origin(u))
		}
		o.url = u
		return o, nil
	}
	u := p.base
	u.Path += v.Expand(r.Path)
	q := url.Values{}
	for k, t := range r.Query {
		// A placeholder with no value yet ({cursor} on the first page)
		// leaves its parameter out rather than send it empty.
		if val := v.Expand(t); val != "" || !strings.Contains(t, "{") {
			q.Set(k, val)
		}
	}
	switch p.pg.Type {
	case pipeline.PageNumber:
		if p.pg.PageParam != "" {
			q.Set(p.pg.PageParam, strconv.Itoa(st.Page))
		}
	case pipeline.Offset:
		if p.pg.OffsetParam != "" {
			q.Set(p.pg.OffsetParam, strconv.Itoa(st.Offset))
		}
	case pipeline.Cursor:
		if p.pg.CursorParam != "" && st.Cursor != "" {
			q.Set(p.pg.CursorParam, st.Cursor)
		}
	}
	if p.pg.SizeParam != "" && p.pg.PageSize > 0 && p.pg.Type != pipeline.NoPagination {
		q.Set(p.pg.SizeParam, strconv.Itoa(p.pg.PageSize))
	}
	u.RawQuery = q.Encode()
	o.url = &u
	return o, nil
}

// response is what the pager reads from a page.
type response struct {
	body    []byte
	header  http.Header
	url     *url.URL // the URL requested, before authorization
	records int
}

// next returns the state of the page after the one at st, read from its
// response; nil when there is none. It does not change the pager: a page
// only counts once it has been fetched and read whole.
func (p *pager) next(st State, r response) (*State, error) {
	nx := st
	nx.Pages++
	nx.Records += r.records
	switch p.pg.Type {
	case pipeline.PageNumber:
		if r.records == 0 {
			return nil, nil
		}
		if p.pg.TotalPagesPath != "" {
			total, err := count(r.body, p.pg.TotalPagesPath)
			if err != nil {
				return nil, fault.Permanent(fmt.Errorf("total_pages_path %q: %w", p.pg.TotalPagesPath, err))
			}
			if st.Page-p.pg.StartPage+1 >= total {
				return nil, nil
			}
		}
		if done, err := p.totalReached(r.body, nx.Records); done || err != nil {
			return nil, err
		}
		nx.Page++
	case pipeline.Offset:
		if r.records == 0 {
			return nil, nil
		}
		if done, err := p.totalReached(r.body, st.Offset+r.records); done || err != nil {
			return nil, err
		}
		nx.Offset += r.records
	case pipeline.Cursor:
		c := gjson.GetBytes(r.body, p.pg.CursorPath)
		switch c.Type {
		case gjson.Null: // missing too
			return nil, nil
		case gjson.String:
			nx.Cursor = c.Str
		case gjson.Number:
			nx.Cursor = c.Raw
		default:
			return nil, fault.Permanentf("cursor_path %q: want a string or a number, got %s", p.pg.CursorPath, kind(c))
		}
		if nx.Cursor == "" {
			return nil, nil
		}
		if nx.Cursor == st.Cursor {
			return nil, fault.Permanentf("cursor_path %q: the API sent back the cursor it was given; the walk would never end", p.pg.CursorPath)
		}
	case pipeline.NextURL:
		v := gjson.GetBytes(r.body, p.pg.NextURLPath)
		switch v.Type {
		case gjson.Null:
			return nil, nil
		case gjson.String:
		default:
			return nil, fault.Permanentf("next_url_path %q: want a string, got %s", p.pg.NextURLPath, kind(v))
		}
		if v.Str == "" {
			return nil, nil
		}
		u, err := p.follow(v.Str, r.url)
		if err != nil {
			return nil, fmt.Errorf("next_url_path %q: %w", p.pg.NextURLPath, err)
		}
		nx.NextURL = u
	case pipeline.LinkHeader:
		ref, ok := nextLink(r.header)
		if !ok {
			return nil, nil
		}
		u, err := p.follow(ref, r.url)
		if err != nil {
			return nil, fmt.Errorf("link header: %w", err)
		}
		nx.NextURL = u
	default:
		return nil, nil
	}
	return &nx, nil
}

// totalReached reports whether records, the records read so far, reach
// the total at total_path.
func (p *pager) totalReached(body []byte, records int) (bool, error) {
	if p.pg.TotalPath == "" {
		return false, nil
	}
	total, err := count(body, p.pg.TotalPath)
	if err != nil {
		return false, fault.Permanent(fmt.Errorf("total_path %q: %w", p.pg.TotalPath, err))
	}
	return records >= total, nil
}

// follow resolves a next link against the URL of the page that gave it and
// checks that it stays on the API's host and moves on.
func (p *pager) follow(ref string, from *url.URL) (string, error) {
	r, err := url.Parse(strings.TrimSpace(ref))
	if err != nil {
		return "", fault.Permanentf("invalid next URL")
	}
	u := from.ResolveReference(r)
	u.Fragment, u.RawFragment = "", ""
	if !sameOrigin(u, p.origin) {
		return "", fault.Permanentf("next URL on %s refused: not the host of request.base_url", origin(u))
	}
	if p.strip != "" {
		q := u.Query()
		if q.Has(p.strip) {
			q.Del(p.strip)
			u.RawQuery = q.Encode()
		}
	}
	if u.String() == from.String() {
		return "", fault.Permanentf("the API sent back the URL it was given; the walk would never end")
	}
	return u.String(), nil
}

// sameOrigin reports whether a and b have the same scheme, host and port.
func sameOrigin(a, b *url.URL) bool {
	return origin(a) == origin(b)
}

// origin returns scheme://host:port of u, lower-cased, with the default
// port made explicit.
func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		}
	}
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return scheme + "://" + host + ":" + port
}

// count reads a non-negative number (or a numeric string) at path.
func count(body []byte, path string) (int, error) {
	r := gjson.GetBytes(body, path)
	switch r.Type {
	case gjson.Number:
		return int(r.Int()), nil
	case gjson.String:
		if n, err := strconv.Atoi(r.Str); err == nil {
			return n, nil
		}
	}
	if !r.Exists() {
		return 0, fmt.Errorf("not found in body")
	}
	return 0, fmt.Errorf("want a number, got %s", kind(r))
}

// kind describes the JSON type of r for error messages.
func kind(r gjson.Result) string {
	switch {
	case !r.Exists():
		return "nothing"
	case r.IsArray():
		return "an array"
	case r.IsObject():
		return "an object"
	case r.Type == gjson.String:
		return "a string"
	case r.Type == gjson.Number:
		return "a number"
	case r.IsBool():
		return "a boolean"
	default:
		return "null"
	}
}
