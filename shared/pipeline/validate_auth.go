package pipeline

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
)

// authFields lists, per auth type, the auth fields it uses and which of
// them are required.
var authFields = map[AuthType]struct{ uses, required []string }{
	APIKey:                  {[]string{"in", "name", "key"}, []string{"name", "key"}},
	Bearer:                  {[]string{"token"}, []string{"token"}},
	Basic:                   {[]string{"username", "password"}, []string{"username", "password"}},
	OAuth2ClientCredentials: {[]string{"token_url", "client_id", "client_secret", "scopes"}, []string{"token_url", "client_id", "client_secret"}},
}

var allAuthFields = []string{"in", "name", "key", "token", "username", "password", "token_url", "client_id", "client_secret", "scopes"}

const authTypes = "api_key, bearer, basic, oauth2_client_credentials"

func (d *decoder) validateAuth(sp string, s *Source) {
	p := sp + ".auth"
	a := &s.Auth
	fields, known := authFields[a.Type]
	switch {
	case a.Type == NoAuth:
		d.invalid(p+".type", "required (want %s)", authTypes)
		return
	case !known:
		d.invalid(p+".type", "unknown type %q (want %s)", a.Type, authTypes)
		return
	}
	for _, f := range allAuthFields {
		if d.has(p+"."+f) && !slices.Contains(fields.uses, f) {
			d.invalid(p+"."+f, "not used with type %s", a.Type)
		}
	}
	for _, f := range fields.required {
		if !d.has(p + "." + f) {
			d.invalid(p+"."+f, "required for type %s", a.Type)
		}
	}
	for _, f := range []struct {
		field string
		s     Secret
	}{
		{"key", a.Key}, {"token", a.Token}, {"username", a.Username}, {"password", a.Password},
		{"client_id", a.ClientID}, {"client_secret", a.ClientSecret},
	} {
		if !d.has(p+"."+f.field) || !slices.Contains(fields.uses, f.field) {
			continue
		}
		if _, _, _, err := f.s.Parse(); err != nil {
			d.invalid(p+"."+f.field, "%v", err)
		}
	}
	r := &s.Request
	switch a.Type {
	case APIKey:
		d.validateAPIKey(sp, s)
	case OAuth2ClientCredentials:
		if d.has(p + ".token_url") {
			d.validateTokenURL(p+".token_url", a.TokenURL)
		}
		for i, scope := range a.Scopes {
			if scope == "" || strings.ContainsAny(scope, " \t\r\n\"\\") {
				d.invalid(fmt.Sprintf("%s.scopes[%d]", p, i), "invalid scope %q (want a non-empty word without spaces, quotes or backslashes)", scope)
			}
		}
	}
	if a.Type != APIKey {
		if k, ok := hasHeader(r.Headers, "Authorization"); ok {
			d.invalid(join(sp+".request.headers", k), "header is set by auth (type %s)", a.Type)
		}
	}
}

func (d *decoder) validateAPIKey(sp string, s *Source) {
	p := sp + ".auth"
	a := &s.Auth
	switch a.In {
	case "header":
		if a.Name != "" && !isToken(a.Name) {
			d.invalid(p+".name", "invalid header name")
		} else if k, ok := hasHeader(s.Request.Headers, a.Name); ok && a.Name != "" {
			d.invalid(join(sp+".request.headers", k), "header is set by auth (api_key)")
		}
	case "query":
		if _, clash := s.Request.Query[a.Name]; clash && a.Name != "" {
			d.invalid(join(sp+".request.query", a.Name), "parameter is set by auth (api_key)")
		}
		g := &s.Pagination
		for _, param := range []string{g.PageParam, g.OffsetParam, g.SizeParam, g.CursorParam} {
			if param != "" && param == a.Name {
				d.invalid(p+".name", "same parameter %q as the pagination's", a.Name)
			}
		}
	default:
		d.invalid(p+".in", "unknown location %q (want header, query)", a.In)
	}
	if d.has(p+".name") && a.Name == "" {
		d.invalid(p+".name", "must not be empty")
	}
}

func (d *decoder) validateTokenURL(p, raw string) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		d.invalid(p, "invalid URL: %v", err)
	case u.Scheme != "http" && u.Scheme != "https":
		d.invalid(p, "scheme %q not supported (want an absolute http or https URL)", u.Scheme)
	case u.Host == "":
		d.invalid(p, "missing host")
	case u.User != nil:
		d.invalid(p, "must not carry credentials (use client_id and client_secret)")
	case u.Fragment != "":
		d.invalid(p, "must not have a fragment")
	}
}

func (d *decoder) validateRateLimit(p string, r *RateLimit) {
	switch {
	case !d.has(p + ".requests_per_second"):
		d.invalid(p+".requests_per_second", "required")
	case !(r.RequestsPerSecond > 0) || math.IsInf(r.RequestsPerSecond, 1):
		d.invalid(p+".requests_per_second", "must be positive (0.5 is one request every 2s)")
	}
	if r.Burst < 1 {
		d.invalid(p+".burst", "must be at least 1")
	}
}

func (d *decoder) validateRetry(p string, r *Retry) {
	if r.MaxAttempts < 1 {
		d.invalid(p+".max_attempts", "must be at least 1")
	}
	for _, f := range []struct {
		field string
		ok    bool
	}{
		{"base_delay", r.BaseDelay > 0}, {"max_delay", r.MaxDelay > 0},
		{"max_retry_after", r.MaxRetryAfter > 0}, {"max_wait", r.MaxWait > 0},
	} {
		if !f.ok {
			d.invalid(p+"."+f.field, "must be positive")
		}
	}
	if r.MaxDelay > 0 && r.MaxDelay < r.BaseDelay {
		d.invalid(p+".max_delay", "must not be less than base_delay (%s)", r.BaseDelay)
	}
	if r.MaxWait > 0 && r.MaxWait < r.MaxRetryAfter {
		d.invalid(p+".max_wait", "must not be less than max_retry_after (%s)", r.MaxRetryAfter)
	}
}
