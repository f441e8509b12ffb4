package source

import (
	"fmt"
	"maps"
	"net/url"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/pipeline"
)

// pager holds where the walk of a window's pages stands: it builds the URL
// of the next page and reads from each body whether, and where, to go on.
type pager struct {
	pg     pipeline.Pagination
	base   url.URL    // base URL and request path, placeholders replaced
	query  url.Values // request.query, placeholders replaced
	page   int        // page_number: the page number to send next
	cursor string     // cursor: the cursor to send next; "" on the first page
}

func newPager(src *pipeline.Source, w pipeline.Window) (*pager, error) {
	base, err := url.Parse(src.Request.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("invalid base_url: want an absolute http or https URL")
	}
	p := &pager{pg: src.Pagination, base: *base, query: base.Query()}
	switch p.pg.Type {
	case pipeline.PageNumber:
		if p.pg.PageParam == "" {
			p.pg.PageParam = pipeline.DefaultPageParam
		}
		p.page = p.pg.StartPage
	case pipeline.Cursor:
		if p.pg.CursorParam == "" || p.pg.CursorPath == "" {
			return nil, fmt.Errorf("pagination type cursor needs cursor_param and cursor_path")
		}
	case pipeline.NoPagination:
	default:
		return nil, fmt.Errorf("unknown pagination type %q", p.pg.Type)
	}
	p.base.Path = strings.TrimSuffix(base.Path, "/") + w.Expand(src.Request.Path)
	p.base.RawPath = ""
	p.base.RawQuery = ""
	for k, v := range src.Request.Query {
		p.query.Set(k, w.Expand(v))
	}
	return p, nil
}

// url returns the URL of the next page.
func (p *pager) url() string {
	q := maps.Clone(p.query) // Set below replaces values, never appends to shared ones
	switch p.pg.Type {
	case pipeline.PageNumber:
		q.Set(p.pg.PageParam, strconv.Itoa(p.page))
	case pipeline.Cursor:
		if p.cursor != "" {
			q.Set(p.pg.CursorParam, p.cursor)
		}
	}
	if p.pg.SizeParam != "" && p.pg.PageSize > 0 && p.pg.Type != pipeline.NoPagination {
		q.Set(p.pg.SizeParam, strconv.Itoa(p.pg.PageSize))
	}
	u := p.base
	u.RawQuery = q.Encode()
	return u.String()
}

// next reads from a page's body whether more pages follow and, for cursor
// pagination, the cursor that asks for the next one. It does not move the
// pager: a page is only passed once it has been fetched and read whole.
func (p *pager) next(body []byte, records int) (more bool, cursor string, err error) {
	switch p.pg.Type {
	case pipeline.PageNumber:
		if p.pg.TotalPagesPath == "" {
			return records > 0, "", nil
		}
		total, err := totalPages(gjson.GetBytes(body, p.pg.TotalPagesPath))
		if err != nil {
			return false, "", fault.Permanent(fmt.Errorf("total_pages_path %q: %w", p.pg.TotalPagesPath, err))
		}
		fetched := p.page - p.pg.StartPage + 1
		return fetched < total, "", nil
	case pipeline.Cursor:
		c := gjson.GetBytes(body, p.pg.CursorPath)
		switch c.Type {
		case gjson.Null: // missing too
			return false, "", nil
		case gjson.String:
			cursor = c.Str
		case gjson.Number:
			cursor = c.Raw
		default:
			return false, "", fault.Permanentf("cursor_path %q: want a string or a number, got %s", p.pg.CursorPath, kind(c))
		}
		if cursor == "" {
			return false, "", nil
		}
		if cursor == p.cursor {
			return false, "", fault.Permanentf("cursor_path %q: the API sent back the cursor it was given; the walk would never end", p.pg.CursorPath)
		}
		return true, cursor, nil
	default:
		return false, "", nil
	}
}

// advance moves the pager past the page just read.
func (p *pager) advance(cursor string) {
	p.page++
	p.cursor = cursor
}

func totalPages(r gjson.Result) (int, error) {
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
