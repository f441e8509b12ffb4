package auth

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/sluice-data/sluice/shared/source"
)

var (
	_ source.Authorizer = (*header)(nil)
	_ source.Authorizer = (*queryParam)(nil)
)

// header sends a fixed credential in a header: an API key, a bearer token,
// basic auth. It formats without its value.
type header struct {
	kind  string // the auth type, for String
	name  string
	value string
}

// Authorize sets the header, replacing any value the request had.
func (h *header) Authorize(_ context.Context, req *http.Request) error {
	req.Header.Set(h.name, h.value)
	return nil
}

// Refresh returns false: a fixed credential cannot change.
func (*header) Refresh(context.Context, *http.Request) (bool, error) { return false, nil }

func (h *header) String() string   { return fmt.Sprintf("%s in header %s", h.kind, h.name) }
func (h *header) GoString() string { return "auth." + h.String() }

// queryParam sends an API key as a query parameter. It formats without its
// value.
type queryParam struct {
	name  string
	value string
}

// Authorize sets the parameter, replacing any value the request had. The
// rest of the query is left as the request had it, byte for byte.
func (q *queryParam) Authorize(_ context.Context, req *http.Request) error {
	u := *req.URL
	if u.Query().Has(q.name) {
		v := u.Query()
		v.Set(q.name, q.value)
		u.RawQuery = v.Encode()
	} else {
		kv := url.QueryEscape(q.name) + "=" + url.QueryEscape(q.value)
		if u.RawQuery == "" {
			u.RawQuery = kv
		} else {
			u.RawQuery = strings.TrimSuffix(u.RawQuery, "&") + "&" + kv
		}
	}
	req.URL = &u
	return nil
}

// Refresh returns false: a fixed credential cannot change.
func (*queryParam) Refresh(context.Context, *http.Request) (bool, error) { return false, nil }

func (q *queryParam) String() string   { return "api_key in query parameter " + q.name }
func (q *queryParam) GoString() string { return "auth." + q.String() }
