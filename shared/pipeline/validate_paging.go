package pipeline

import (
	"slices"
	"strings"
)

// pagingFields lists, per pagination type, the pagination fields it uses.
var pagingFields = map[PaginationType][]string{
	PageNumber:   {"page_param", "start_page", "total_pages_path", "total_path", "size_param", "page_size", "max_pages", "concurrency"},
	Offset:       {"offset_param", "total_path", "size_param", "page_size", "max_pages", "concurrency"},
	Cursor:       {"cursor_param", "cursor_path", "size_param", "page_size", "max_pages"},
	NextURL:      {"next_url_path", "size_param", "page_size", "max_pages"},
	LinkHeader:   {"size_param", "page_size", "max_pages"},
	NoPagination: {},
}

var allPagingFields = []string{"page_param", "start_page", "total_pages_path", "offset_param", "total_path",
	"size_param", "page_size", "cursor_param", "cursor_path", "next_url_path", "max_pages", "concurrency"}

func paginationTypes() string {
	names := make([]string, len(PaginationTypes))
	for i, t := range PaginationTypes {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

func (d *decoder) validatePagination(sp string, s *Source) {
	p := sp + ".pagination"
	g := &s.Pagination
	uses, known := pagingFields[g.Type]
	switch {
	case g.Type == "":
		d.invalid(p+".type", "required (want %s)", paginationTypes())
		return
	case !known:
		d.invalid(p+".type", "unknown type %q (want %s)", g.Type, paginationTypes())
		return
	}
	for _, f := range allPagingFields {
		if d.has(p+"."+f) && !slices.Contains(uses, f) {
			d.invalid(p+"."+f, "not used with type %s", g.Type)
		}
	}
	r := &s.Request
	for _, f := range []struct{ field, value string }{
		{"page_param", g.PageParam}, {"offset_param", g.OffsetParam}, {"size_param", g.SizeParam}, {"cursor_param", g.CursorParam},
	} {
		if d.has(p+"."+f.field) && f.value == "" {
			d.invalid(p+"."+f.field, "must not be empty (leave it out)")
		}
	}
	for _, f := range []struct{ field, value string }{
		{"total_pages_path", g.TotalPagesPath}, {"total_path", g.TotalPath}, {"cursor_path", g.CursorPath}, {"next_url_path", g.NextURLPath},
	} {
		if d.has(p + "." + f.field) {
			d.checkJSONPath(p+"."+f.field, f.value, false)
		}
	}
	switch g.Type {
	case PageNumber:
		if g.StartPage < 0 {
			d.invalid(p+".start_page", "must not be negative")
		}
		if g.TotalPagesPath != "" && g.TotalPath != "" {
			d.invalid(p+".total_path", "give total_pages_path or total_path, not both")
		}
	case Offset:
		if !d.has(p + ".page_size") {
			d.invalid(p+".page_size", "required for type offset")
		}
	case Cursor:
		if g.CursorParam == "" && !r.Uses("cursor") {
			d.invalid(p+".cursor_param", "required for type cursor (or place {cursor} in the request)")
		}
		if !d.has(p + ".cursor_path") {
			d.invalid(p+".cursor_path", "required for type cursor")
		}
	case NextURL:
		if !d.has(p + ".next_url_path") {
			d.invalid(p+".next_url_path", "required for type next_url")
		}
	}
	if g.Type != NoPagination {
		hasSize := d.has(p + ".page_size")
		switch {
		case hasSize && g.PageSize < 1:
			d.invalid(p+".page_size", "must be at least 1")
		case g.SizeParam != "" && !hasSize && g.Type != Offset: // offset: reported above
			d.invalid(p+".page_size", "required with size_param")
		case g.SizeParam == "" && hasSize && !r.Uses("limit"):
			d.invalid(p+".size_param", "required with page_size (or place {limit} in the request)")
		}
		if d.has(p+".concurrency") && slices.Contains(uses, "concurrency") {
			d.validateConcurrency(p, g)
		}
		if d.has(p+".max_pages") && g.MaxPages < 1 {
			d.invalid(p+".max_pages", "must be at least 1")
		}
	}
	// The paging parameters belong to the pager: the same name in
	// request.query, or twice among them, would send conflicting values.
	owner := map[string]string{}
	for _, f := range []struct{ field, param string }{
		{"page_param", g.PageParam}, {"offset_param", g.OffsetParam}, {"size_param", g.SizeParam}, {"cursor_param", g.CursorParam},
	} {
		if f.param == "" || !slices.Contains(uses, f.field) {
			continue
		}
		if other, dup := owner[f.param]; dup {
			d.invalid(p+"."+f.field, "same parameter %q as %s", f.param, other)
			continue
		}
		owner[f.param] = f.field
		if _, clash := r.Query[f.param]; clash {
			d.invalid(join(sp+".request.query", f.param), "parameter is set by pagination.%s", f.field)
		}
	}
}

// validateConcurrency checks pagination.concurrency, which only pages
// known in advance can use.
func (d *decoder) validateConcurrency(p string, g *Pagination) {
	switch {
	case g.Concurrency < 1 || g.Concurrency > MaxConcurrency:
		d.invalid(p+".concurrency", "%d: want 1 to %d", g.Concurrency, MaxConcurrency)
	case g.Concurrency > 1 && g.TotalPagesPath == "" && g.TotalPath == "":
		d.invalid(p+".concurrency", "needs total_pages_path or total_path: without a total, the pages after the first are not known in advance")
	}
}
