package pipeline

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

var nameRE = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

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
		d.validateRequest(p+".request", &s.Request, pagePlaceholders(&s.Pagination))
	}
	if d.has(p + ".pagination") {
		d.validatePagination(p, s)
	}
	if d.has(p + ".records.path") {
		d.checkJSONPath(p+".records.path", s.Records.Path, true)
	}
	if d.has(p + ".auth") {
		d.validateAuth(p, s)
	}
	if d.has(p + ".rate_limit") {
		d.validateRateLimit(p+".rate_limit", &s.RateLimit)
	}
	if d.has(p + ".retry") {
		d.validateRetry(p+".retry", &s.Retry)
	}
	d.validateOutput(p+".output", &s.Output)
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
	if s.Partition.Lag < 0 || s.Partition.Lag > 90*24*time.Hour {
		d.invalid(p+".partition.lag", "%v: want 0 to 90 days (2160h)", s.Partition.Lag)
	}
	if d.has(p+".partition.lookback") && (s.Partition.Lookback < 1 || s.Partition.Lookback > MaxLookback) {
		d.invalid(p+".partition.lookback", "%d: want 1 to %d windows", s.Partition.Lookback, MaxLookback)
	}
	if d.has(p + ".partition.slices") {
		d.validateSlices(p, s)
	}
	if start := s.Partition.Start; d.has(p+".partition.start") && s.Partition.valid() {
		if first := s.Partition.floor(start); !first.Equal(start) {
			d.invalid(p+".partition.start", "%s is not the start of a %s window (that would be %s)",
				start.Format(hourKeyLayout), s.Partition.Every, s.Partition.Key(Window{Start: first}))
		}
	}
}

// validateRequest checks a request; page lists the page placeholders its
// templates may use.
func (d *decoder) validateRequest(p string, r *Request, page []string) {
	switch r.Method {
	case "GET", "POST":
	default:
		d.invalid(p+".method", "unsupported method %q (want GET, POST)", r.Method)
	}
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
		case u.User != nil:
			d.invalid(p+".base_url", "must not carry credentials (use auth)")
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
		d.checkPlaceholders(p+".path", r.Path, page)
	}
	for _, k := range sortedKeys(r.Query) {
		if k == "" {
			d.invalid(p+".query", "empty parameter name")
			continue
		}
		d.checkPlaceholders(join(p+".query", k), r.Query[k], page)
	}
	for _, k := range sortedKeys(r.Headers) {
		switch {
		case !isToken(k):
			d.invalid(join(p+".headers", k), "invalid header name")
		case strings.ContainsAny(r.Headers[k], "\r\n\x00"):
			d.invalid(join(p+".headers", k), "header value must not contain CR, LF or NUL")
		default:
			d.checkPlaceholders(join(p+".headers", k), r.Headers[k], page)
		}
	}
	if d.has(p + ".body") {
		d.validateBody(p, r, page)
	}
	if d.has(p+".timeout") && r.Timeout <= 0 {
		d.invalid(p+".timeout", "must be positive")
	}
}

// validateBody checks a POST body template: known placeholders, and JSON
// once they are replaced.
func (d *decoder) validateBody(p string, r *Request, page []string) {
	if r.Method != "POST" {
		d.invalid(p+".body", "only sent with method POST")
		return
	}
	ok := true
	for i := 0; i < len(r.Body); i++ {
		if ph := jsonPlaceholderRE.FindString(r.Body[i:]); ph != "" {
			if reason := checkPlaceholder(ph, page); reason != "" {
				d.invalid(p+".body", "%s", reason)
				ok = false
			}
			i += len(ph) - 1
		}
	}
	if !ok {
		return
	}
	var v any
	sample := Vars{Cursor: "c", Limit: 1}.ExpandJSON(r.Body)
	if err := json.Unmarshal([]byte(sample), &v); err != nil {
		d.invalid(p+".body", "not JSON once its placeholders are replaced: %v", err)
	}
}

func (d *decoder) checkPlaceholders(path, s string, page []string) {
	for _, ph := range placeholderRE.FindAllString(s, -1) {
		if reason := checkPlaceholder(ph, page); reason != "" {
			d.invalid(path, "%s", reason)
		}
	}
}

// checkJSONPath checks a gjson path; the empty path and "@this", the whole
// body, only where whole allows them.
func (d *decoder) checkJSONPath(path, value string, whole bool) {
	switch {
	case value == "" || value == "@this":
		if !whole {
			d.invalid(path, "must not be empty")
		}
	default:
		if err := checkJSONPath(value); err != nil {
			d.invalid(path, "invalid JSON path %q: %v", value, err)
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

// hasHeader reports whether the headers set h, in any case.
func hasHeader(headers map[string]string, h string) (string, bool) {
	for k := range headers {
		if http.CanonicalHeaderKey(k) == http.CanonicalHeaderKey(h) {
			return k, true
		}
	}
	return "", false
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// validateSlices checks partition.slices: a count that cuts the window
// into slices of whole seconds, and a request whose {start} and {end}
// bound each slice — without them every slice would fetch the whole
// window, and the partition would hold each record many times.
func (d *decoder) validateSlices(p string, s *Source) {
	n := s.Partition.Slices
	switch {
	case n < 0 || n > MaxSlices:
		d.invalid(p+".partition.slices", "%d: want 2 to %d, or 0 or 1 for none (the window whole)", n, MaxSlices)
		return
	case n <= 1 || !s.Partition.valid():
		return
	}
	if secs := int64(s.Partition.length() / time.Second); secs%int64(n) != 0 {
		d.invalid(p+".partition.slices", "%d does not cut a %s (%d s) into slices of whole seconds; pick a divisor such as 2, 3, 4, 6, 8, 12, 16 or 24", n, s.Partition.Every, secs)
	}
	if !s.Request.UsesWindow("start") || !s.Request.UsesWindow("end") {
		d.invalid(p+".partition.slices", "%d slices need a request that filters by time with both {start} and {end} (each slice's bounds, in any format); {date} is the window's day", n)
	}
}
