package pipeline

import (
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

var (
	nameRE        = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)
	placeholderRE = regexp.MustCompile(`\{[^{}]*\}`)
)

// pagingFields lists, per pagination type, the pagination fields it uses.
var pagingFields = map[PaginationType][]string{
	PageNumber:   {"page_param", "start_page", "total_pages_path", "size_param", "page_size", "max_pages"},
	Cursor:       {"cursor_param", "cursor_path", "size_param", "page_size", "max_pages"},
	NoPagination: {},
}

var allPagingFields = []string{"page_param", "start_page", "total_pages_path", "size_param", "page_size", "cursor_param", "cursor_path", "max_pages"}

// applyDefaults fills in the fields the config left out. Presence, not the
// zero value, decides: start_page: 0 is a valid choice.
func (d *decoder) applyDefaults(c *Config) {
	for i := range c.Sources {
		s := &c.Sources[i]
		p := fmt.Sprintf("sources[%d]", i)
		if !d.has(p + ".request.timeout") {
			s.Request.Timeout = DefaultTimeout
		}
		g := &s.Pagination
		if g.Type == PageNumber {
			if !d.has(p + ".pagination.page_param") {
				g.PageParam = DefaultPageParam
			}
			if !d.has(p + ".pagination.start_page") {
				g.StartPage = DefaultStartPage
			}
		}
		if !d.has(p + ".pagination.max_pages") {
			g.MaxPages = DefaultMaxPages
		}
	}
}

func (d *decoder) validate(c *Config) {
	switch {
	case !d.has("version"):
		d.invalid("version", "required (want %d)", Version)
	case c.Version != Version: // defensive: Parse has reported it already
		d.invalid("version", "unsupported version %d (want %d)", c.Version, Version)
	}
	if len(c.Sources) == 0 {
		d.invalid("sources", "at least one source is required")
	}
	first := map[string]int{}
	for i := range c.Sources {
		p := fmt.Sprintf("sources[%d]", i)
		s := &c.Sources[i]
		d.validateSource(p, s)
		if j, dup := first[s.Name]; dup && s.Name != "" {
			d.invalid(p+".name", "duplicate name %q (first at sources[%d])", s.Name, j)
		} else if !dup {
			first[s.Name] = i
		}
	}
}

func (d *decoder) validateSource(p string, s *Source) {
	switch {
	case s.Name == "":
		d.invalid(p+".name", "required")
	case !nameRE.MatchString(s.Name):
		d.invalid(p+".name", "invalid name %q (want 1 to 64 of a-z, 0-9, _ and -)", s.Name)
	}
	// A missing section is one problem, not one per field inside it.
	for _, section := range []string{"request", "pagination", "partition"} {
		if !d.has(p + "." + section) {
			d.invalid(p+"."+section, "required")
		}
	}
	if d.has(p + ".request") {
		d.validateRequest(p+".request", &s.Request)
	}
	if d.has(p + ".pagination") {
		d.validatePagination(p, s)
	}
	if !d.has(p + ".partition") {
		return
	}
	switch s.Partition.Every {
	case Day, Hour:
	case "":
		d.invalid(p+".partition.every", "required (want day, hour)")
	default:
		d.invalid(p+".partition.every", "unknown period %q (want day, hour)", s.Partition.Every)
	}
}

func (d *decoder) validateRequest(p string, r *Request) {
	if r.BaseURL == "" {
		d.invalid(p+".base_url", "required")
	} else if u, err := url.Parse(r.BaseURL); err != nil {
		d.invalid(p+".base_url", "invalid URL: %v", err)
	} else {
		switch {
		case u.Scheme != "http" && u.Scheme != "https":
			d.invalid(p+".base_url", "scheme %q not supported (want an absolute http or https URL)", u.Scheme)
		case u.Host == "":
			d.invalid(p+".base_url", "missing host")
		case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
			d.invalid(p+".base_url", "must not have a query or fragment (use request.query)")
		}
	}
	switch {
	case r.Path == "":
		d.invalid(p+".path", "required")
	case !strings.HasPrefix(r.Path, "/"):
		d.invalid(p+".path", "must start with \"/\"")
	case strings.ContainsAny(r.Path, "?#"):
		d.invalid(p+".path", "must not contain \"?\" or \"#\" (use request.query)")
	default:
		d.checkPlaceholders(p+".path", r.Path)
	}
	for _, k := range sortedKeys(r.Query) {
		if k == "" {
			d.invalid(p+".query", "empty parameter name")
			continue
		}
		d.checkPlaceholders(join(p+".query", k), r.Query[k])
	}
	for _, k := range sortedKeys(r.Headers) {
		switch {
		case !isToken(k):
			d.invalid(join(p+".headers", k), "invalid header name")
		case strings.ContainsAny(r.Headers[k], "\r\n\x00"):
			d.invalid(join(p+".headers", k), "header value must not contain CR, LF or NUL")
		}
	}
	if d.has(p+".timeout") && r.Timeout <= 0 {
		d.invalid(p+".timeout", "must be positive")
	}
}

func (d *decoder) checkPlaceholders(path, s string) {
	for _, ph := range placeholderRE.FindAllString(s, -1) {
		if !slices.Contains(placeholders, ph) {
			d.invalid(path, "unknown placeholder %q (want %s)", ph, strings.Join(placeholders, ", "))
		}
	}
}

func (d *decoder) validatePagination(sp string, s *Source) {
	p := sp + ".pagination"
	g := &s.Pagination
	uses, known := pagingFields[g.Type]
	switch {
	case g.Type == "":
		d.invalid(p+".type", "required (want page_number, cursor, none)")
		return
	case !known:
		d.invalid(p+".type", "unknown type %q (want page_number, cursor, none)", g.Type)
		return
	}
	for _, f := range allPagingFields {
		if d.has(p+"."+f) && !slices.Contains(uses, f) {
			d.invalid(p+"."+f, "not used with type %s", g.Type)
		}
	}
	switch g.Type {
	case PageNumber:
		if g.PageParam == "" {
			d.invalid(p+".page_param", "must not be empty")
		}
		if g.StartPage < 0 {
			d.invalid(p+".start_page", "must not be negative")
		}
	case Cursor:
		if g.CursorParam == "" {
			d.invalid(p+".cursor_param", "required for type cursor")
		}
		if g.CursorPath == "" {
			d.invalid(p+".cursor_path", "required for type cursor")
		}
	}
	if g.Type != NoPagination {
		hasSize := d.has(p + ".page_size")
		switch {
		case g.SizeParam != "" && !hasSize:
			d.invalid(p+".page_size", "required with size_param")
		case g.SizeParam == "" && hasSize:
			d.invalid(p+".size_param", "required with page_size")
		case hasSize && g.PageSize < 1:
			d.invalid(p+".page_size", "must be at least 1")
		}
		if d.has(p+".max_pages") && g.MaxPages < 1 {
			d.invalid(p+".max_pages", "must be at least 1")
		}
	}
	// The paging parameters belong to the pager: the same name in
	// request.query, or twice among them, would send conflicting values.
	owner := map[string]string{}
	for _, f := range []struct{ field, param string }{
		{"page_param", g.PageParam}, {"size_param", g.SizeParam}, {"cursor_param", g.CursorParam},
	} {
		if f.param == "" {
			continue
		}
		if other, dup := owner[f.param]; dup {
			d.invalid(p+"."+f.field, "same parameter %q as %s", f.param, other)
			continue
		}
		owner[f.param] = f.field
		if _, clash := s.Request.Query[f.param]; clash {
			d.invalid(join(sp+".request.query", f.param), "parameter is set by pagination.%s", f.field)
		}
	}
}

// isToken reports whether s is a valid HTTP header name (RFC 9110 token).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
