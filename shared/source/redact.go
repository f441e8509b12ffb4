package source

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// Credentials must never reach an error, and so a log line or a DLQ
// attribute: an api key may be a query parameter, a token a header, and an
// API may echo either in its error body. Errors therefore carry URLs with
// every query value redacted and never carry request headers, and error
// bodies are scrubbed of the credential values of the request.

const redacted = "REDACTED"

// redactURL returns u for an error message: no user info, and every query
// value replaced by REDACTED (the names stay, to tell the requests apart).
func redactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	r := *u
	r.User = nil
	r.Fragment, r.RawFragment = "", ""
	if r.RawQuery != "" {
		parts := strings.Split(r.RawQuery, "&")
		for i, p := range parts {
			if name, _, ok := strings.Cut(p, "="); ok {
				parts[i] = name + "=" + redacted
			}
		}
		r.RawQuery = strings.Join(parts, "&")
	}
	return r.String()
}

// redactURLError rewrites the URL of a *url.Error in err, as the HTTP
// client reports it, with redactURL.
func redactURLError(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	s := redacted
	if u, perr := url.Parse(ue.URL); perr == nil {
		s = redactURL(u)
	}
	return &url.Error{Op: ue.Op, URL: s, Err: ue.Err}
}

// credentials returns the values the authorizer added to req, compared to
// its headers and query before: those are secrets. The Authorization
// header is always counted, whoever set it.
func credentials(before http.Header, beforeQuery string, req *http.Request) []string {
	var vals []string
	add := func(v string) {
		for _, f := range append(strings.Fields(v), v) {
			if len(f) >= 4 && !slices.Contains(vals, f) {
				vals = append(vals, f)
			}
		}
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			if !slices.Contains(before[k], v) || http.CanonicalHeaderKey(k) == "Authorization" {
				add(strings.TrimPrefix(strings.TrimPrefix(v, "Bearer "), "Basic "))
			}
		}
	}
	if req.URL.RawQuery != beforeQuery {
		old, _ := url.ParseQuery(beforeQuery)
		for k, vs := range req.URL.Query() {
			for _, v := range vs {
				if !slices.Contains(old[k], v) {
					add(v)
					add(url.QueryEscape(v))
				}
			}
		}
	}
	if req.URL.User != nil {
		if p, ok := req.URL.User.Password(); ok {
			add(p)
		}
	}
	// Longest first, so that a value containing another is replaced whole.
	slices.SortFunc(vals, func(a, b string) int { return len(b) - len(a) })
	return vals
}

// errorBody returns the start of an error response's body for a
// StatusError: credentials replaced by REDACTED, made printable, and cut to
// maxErrorBody bytes.
func errorBody(b []byte, secrets []string) string {
	s := string(b)
	for _, v := range secrets {
		s = strings.ReplaceAll(s, v, redacted)
	}
	s = printable([]byte(s))
	if len(s) > maxErrorBody {
		cut := maxErrorBody
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}

// printable makes the start of a body fit for one log line.
func printable(b []byte) string {
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s))
}
