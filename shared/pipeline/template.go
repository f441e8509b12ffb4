package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A placeholder is {name} or {name:format}. The window placeholders are
//
//	{start}  the window's start, RFC 3339 UTC by default
//	{end}    the window's end (exclusive), RFC 3339 UTC by default
//	{date}   the window's start day, 2006-01-02 by default
//
// and take an optional format after a colon: unix (seconds), unix_ms,
// rfc3339, date (2006-01-02) or a Go time layout such as 20060102 or
// 2006-01-02T15:04:05Z07:00, always in UTC. The page placeholders take no
// format:
//
//	{page}    page_number: the page number to send
//	{offset}  offset: the number of records read so far
//	{limit}   the page size (pagination.page_size)
//	{cursor}  cursor: the cursor read from the previous page; "" on the first
var (
	windowNames = []string{"start", "end", "date"}
	pageNames   = []string{"page", "offset", "limit", "cursor"}
	timeFormats = []string{"unix", "unix_ms", "rfc3339", "date"}
)

var (
	// placeholderRE finds the placeholders of path, query and header
	// templates: any braces, so that a misspelt one is reported.
	placeholderRE = regexp.MustCompile(`\{[^{}]*\}`)
	// jsonPlaceholderRE finds the placeholders of a JSON body template,
	// where other braces are JSON objects.
	jsonPlaceholderRE = regexp.MustCompile(`^\{[a-z_]+(?::[^{}"\\]*)?\}`)
)

// Vars holds the values the placeholders of a request stand for.
type Vars struct {
	Window Window
	// Slice, when set, is the time slice of Window being walked
	// (Partition.Slices): {start} and {end} are its bounds, while {date}
	// stays the window's day.
	Slice  Window
	Page   int    // {page}
	Offset int    // {offset}
	Limit  int    // {limit}
	Cursor string // {cursor}
}

// Expand replaces the placeholders in s. Anything else in braces is left
// as written (Parse rejects it).
func (v Vars) Expand(s string) string {
	if !strings.Contains(s, "{") {
		return s
	}
	return placeholderRE.ReplaceAllStringFunc(s, func(ph string) string {
		val, _, ok := v.lookup(ph[1 : len(ph)-1])
		if !ok {
			return ph
		}
		return val
	})
}

// ExpandJSON replaces the placeholders of a JSON template so that the
// result stays JSON whatever the values are. Inside a JSON string a value
// is escaped; outside one, a number ({page}, {offset}, {limit},
// {start:unix}, {start:unix_ms}) is written bare, {cursor} is null while
// it is empty, and any other value becomes a JSON string:
//
//	{"since": {start:unix}, "day": "{date}", "cursor": {cursor}}
//	→ {"since": 1793491200, "day": "2026-11-01", "cursor": null}
func (v Vars) ExpandJSON(s string) string {
	var b strings.Builder
	inString, escaped := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case c == '{':
			m := jsonPlaceholderRE.FindString(s[i:])
			if m == "" {
				break
			}
			val, numeric, ok := v.lookup(m[1 : len(m)-1])
			if !ok {
				break
			}
			switch {
			case inString:
				q := jsonString(val)
				b.WriteString(q[1 : len(q)-1])
			case numeric:
				b.WriteString(val)
			case val == "" && m == "{cursor}":
				b.WriteString("null")
			default:
				b.WriteString(jsonString(val))
			}
			i += len(m) - 1
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// jsonString returns s as a JSON string literal, quotes included.
func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// lookup returns the value of the placeholder written as "name[:format]"
// and whether it is a number.
func (v Vars) lookup(ph string) (val string, numeric, ok bool) {
	name, format, hasFormat := strings.Cut(ph, ":")
	switch name {
	case "start", "end", "date":
		bounds := v.Window
		if name != "date" && !v.Slice.Start.IsZero() {
			bounds = v.Slice
		}
		t := bounds.Start
		if name == "end" {
			t = bounds.End
		}
		if !hasFormat {
			format = "rfc3339"
			if name == "date" {
				format = "date"
			}
		}
		val, numeric = formatTime(t, format)
		return val, numeric, true
	}
	if hasFormat {
		return "", false, false
	}
	switch name {
	case "page":
		return strconv.Itoa(v.Page), true, true
	case "offset":
		return strconv.Itoa(v.Offset), true, true
	case "limit":
		return strconv.Itoa(v.Limit), true, true
	case "cursor":
		return v.Cursor, false, true
	}
	return "", false, false
}

// formatTime formats t in UTC with a placeholder format.
func formatTime(t time.Time, format string) (string, bool) {
	t = t.UTC()
	switch format {
	case "unix":
		return strconv.FormatInt(t.Unix(), 10), true
	case "unix_ms":
		return strconv.FormatInt(t.UnixMilli(), 10), true
	case "rfc3339":
		return t.Format(time.RFC3339), false
	case "date":
		return t.Format(time.DateOnly), false
	default:
		return t.Format(format), false
	}
}

// Expand replaces the window placeholders in s ({date}, {start}, {end},
// with or without a format) and leaves the page placeholders as written.
func (w Window) Expand(s string) string {
	if !strings.Contains(s, "{") {
		return s
	}
	v := Vars{Window: w}
	return placeholderRE.ReplaceAllStringFunc(s, func(ph string) string {
		name, _, _ := strings.Cut(ph[1:len(ph)-1], ":")
		if !slices.Contains(windowNames, name) {
			return ph
		}
		val, _, _ := v.lookup(ph[1 : len(ph)-1])
		return val
	})
}

// checkPlaceholder returns why the placeholder ph ("{name[:format]}") is
// not valid where page, the page placeholders of the source's pagination,
// are available; "" if it is.
func checkPlaceholder(ph string, page []string) string {
	name, format, hasFormat := strings.Cut(ph[1:len(ph)-1], ":")
	switch {
	case slices.Contains(windowNames, name):
		if hasFormat && !validTimeFormat(format) {
			return fmt.Sprintf("unknown format %q in %q (want %s or a Go time layout such as 2006-01-02)",
				format, ph, strings.Join(timeFormats, ", "))
		}
		return ""
	case slices.Contains(pageNames, name):
		switch {
		case hasFormat:
			return fmt.Sprintf("placeholder %q takes no format (write {%s})", ph, name)
		case name == "limit" && len(page) > 0 && !slices.Contains(page, name):
			return fmt.Sprintf("placeholder %q needs pagination.page_size", ph)
		case !slices.Contains(page, name):
			return fmt.Sprintf("placeholder %q is not available here (%s)", ph, available(page))
		}
		return ""
	default:
		return fmt.Sprintf("unknown placeholder %q (%s)", ph, available(page))
	}
}

func available(page []string) string {
	s := "want {start}, {end} or {date}, each with an optional format such as {start:unix}"
	if len(page) == 0 {
		return s
	}
	names := make([]string, len(page))
	for i, n := range page {
		names[i] = "{" + n + "}"
	}
	return s + ", or " + strings.Join(names, ", ")
}

// validTimeFormat reports whether f is a named format or a Go layout that
// formats something.
func validTimeFormat(f string) bool {
	if slices.Contains(timeFormats, f) {
		return true
	}
	ref := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	return f != "" && ref.Format(f) != f
}

// pagePlaceholders returns the page placeholders a pagination provides.
func pagePlaceholders(g *Pagination) []string {
	var names []string
	switch g.Type {
	case PageNumber:
		names = append(names, "page")
	case Offset:
		names = append(names, "offset", "limit")
		return names
	case Cursor:
		names = append(names, "cursor")
	case NoPagination, "":
		return nil
	}
	if g.PageSize > 0 {
		names = append(names, "limit")
	}
	return names
}

// UsesWindow reports whether a template of the request (path, query,
// headers or body) places the window value name ("start", "end", "date"),
// in any format.
func (r *Request) UsesWindow(name string) bool {
	uses := func(t string) bool {
		return strings.Contains(t, "{"+name+"}") || strings.Contains(t, "{"+name+":")
	}
	if uses(r.Path) || uses(r.Body) {
		return true
	}
	for _, v := range r.Query {
		if uses(v) {
			return true
		}
	}
	for _, v := range r.Headers {
		if uses(v) {
			return true
		}
	}
	return false
}

// Uses reports whether a template of the request (path, query, headers or
// body) places the page value name ("page", "offset", "limit", "cursor")
// itself.
func (r *Request) Uses(name string) bool {
	ph := "{" + name + "}"
	if strings.Contains(r.Path, ph) || strings.Contains(r.Body, ph) {
		return true
	}
	for _, v := range r.Query {
		if strings.Contains(v, ph) {
			return true
		}
	}
	for _, v := range r.Headers {
		if strings.Contains(v, ph) {
			return true
		}
	}
	return false
}
