package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/source"
)

const (
	// tokenTimeout bounds one token request when the HTTP client has no
	// shorter timeout of its own.
	tokenTimeout = 30 * time.Second
	// minRenewInterval is how long a token is trusted after it was fetched
	// or renewed: a 401 within it (a token not yet valid everywhere, many
	// requests failing with the same token at once) does not fetch again.
	minRenewInterval = time.Second
)

var _ source.Authorizer = (*clientCredentials)(nil)

// clientCredentials authorizes requests with an OAuth2 token obtained by
// the client credentials grant. The token is cached and renewed by
// oauth2.ReuseTokenSource shortly before it expires (10s), and renewed on
// demand by Refresh after a 401. It formats without its secrets.
type clientCredentials struct {
	source   string
	conf     *clientcredentials.Config
	fetchCtx context.Context // carries the token HTTP client; never cancelled
	now      func() time.Time

	mu      sync.Mutex
	ts      oauth2.TokenSource // replaced by Refresh to drop the cached token
	cur     *oauth2.Token      // last token ts returned
	renewed time.Time          // when cur was fetched or last dropped
}

func newClientCredentials(ctx context.Context, sourceName string, conf *clientcredentials.Config, h *http.Client) *clientCredentials {
	if h == nil {
		h = http.DefaultClient
	}
	tc := *h
	if tc.Timeout <= 0 || tc.Timeout > tokenTimeout {
		tc.Timeout = tokenTimeout
	}
	// A token fetch outlives the request that started it: others may be
	// waiting for the same token.
	fetchCtx := context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, &tc)
	return &clientCredentials{
		source:   sourceName,
		conf:     conf,
		fetchCtx: fetchCtx,
		now:      time.Now,
		ts:       conf.TokenSource(fetchCtx),
	}
}

// Authorize sets the Authorization header to the current token, fetching
// one first if there is none or it is about to expire.
func (c *clientCredentials) Authorize(ctx context.Context, req *http.Request) error {
	t, err := c.token(ctx)
	if err != nil {
		return err
	}
	t.SetAuthHeader(req)
	return nil
}

// Refresh makes sure the token in use is not the one rejected was sent
// with: if it still is, it is dropped and a new one fetched; if a
// concurrent Refresh (or an expiry) already replaced it, the newer token is
// kept. Either way Refresh returns true, and the caller retries once: a
// rejected fresh token cannot loop. Without the rejected request, the
// token is dropped unless it was fetched less than a second ago.
func (c *clientCredentials) Refresh(ctx context.Context, rejected *http.Request) (bool, error) {
	c.mu.Lock()
	// No current token: a concurrent Refresh dropped it and token fetches
	// the next one, shared by every caller.
	stale := false
	switch {
	case c.cur == nil:
	case rejected != nil:
		stale = rejected.Header.Get("Authorization") == c.cur.Type()+" "+c.cur.AccessToken
	default:
		stale = c.now().Sub(c.renewed) >= minRenewInterval
	}
	if stale {
		c.ts = c.conf.TokenSource(c.fetchCtx)
		c.cur = nil
		c.renewed = c.now()
	}
	c.mu.Unlock()
	if _, err := c.token(ctx); err != nil {
		return false, err
	}
	return true, nil
}

// token returns a valid token. A fetch runs in the background under
// fetchCtx, so that the caller can stop waiting when ctx ends while others
// still get the token; concurrent callers share one fetch.
func (c *clientCredentials) token(ctx context.Context) (*oauth2.Token, error) {
	c.mu.Lock()
	ts, cur := c.ts, c.cur
	c.mu.Unlock()
	if cur.Valid() {
		return cur, nil
	}
	type result struct {
		t   *oauth2.Token
		err error
	}
	ch := make(chan result, 1)
	go func() {
		t, err := ts.Token()
		ch <- result{t, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, c.classify(r.err)
		}
		c.mu.Lock()
		if c.ts == ts && c.cur != r.t {
			c.cur, c.renewed = r.t, c.now()
		}
		c.mu.Unlock()
		return r.t, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("source %s: wait for OAuth2 token: %w", c.source, ctx.Err())
	}
}

// classify marks a token endpoint failure: a 4xx answer (other than 408
// and 429) or an error in a 2xx answer is permanent — the client
// credentials or scopes are wrong, and retrying will not fix them; a 5xx,
// 408, 429 or no answer at all is retryable.
func (c *clientCredentials) classify(err error) error {
	redact := []string{c.conf.ClientSecret}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		// A 2xx answer without a token is the endpoint's doing, and the same
		// next time (the library reports it as a plain error).
		if strings.Contains(err.Error(), "missing access_token") {
			return fault.Permanent(&redacted{
				err:    fmt.Errorf("source %s: get OAuth2 token from %s: %w", c.source, c.conf.TokenURL, err),
				values: redact,
			})
		}
		return fault.Retryable(&redacted{
			err:    fmt.Errorf("source %s: get OAuth2 token from %s: %w", c.source, c.conf.TokenURL, err),
			values: redact,
		})
	}
	te := &tokenError{source: c.source, url: c.conf.TokenURL, err: re, redact: redact}
	if re.Response != nil {
		te.status = re.Response.StatusCode
	}
	if te.status == http.StatusRequestTimeout || te.status == http.StatusTooManyRequests || te.status >= 500 {
		return fault.Retryable(te)
	}
	return fault.Permanent(te)
}

func (c *clientCredentials) String() string {
	return "oauth2_client_credentials from " + c.conf.TokenURL
}
func (c *clientCredentials) GoString() string { return "auth." + c.String() }

// tokenError is a failed token request, described by its status and the
// OAuth2 error code and description only: not the response body, and never
// the client credentials, should the server echo them.
type tokenError struct {
	source string
	url    string
	status int
	err    *oauth2.RetrieveError
	redact []string
}

func (e *tokenError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "source %s: get OAuth2 token from %s: ", e.source, e.url)
	if e.status != 0 {
		fmt.Fprintf(&b, "%d %s", e.status, http.StatusText(e.status))
	} else {
		b.WriteString("error")
	}
	if e.err.ErrorCode != "" {
		fmt.Fprintf(&b, " (%s", e.err.ErrorCode)
		if e.err.ErrorDescription != "" {
			fmt.Fprintf(&b, ": %s", e.err.ErrorDescription)
		}
		b.WriteByte(')')
	}
	return redact(b.String(), e.redact)
}

func (e *tokenError) Unwrap() error { return e.err }

// redacted is an error whose message has values blanked out.
type redacted struct {
	err    error
	values []string
}

func (e *redacted) Error() string { return redact(e.err.Error(), e.values) }
func (e *redacted) Unwrap() error { return e.err }

// redact replaces each of values in s. Values shorter than 4 bytes are left
// alone: they are not secrets worth garbling a message for.
func redact(s string, values []string) string {
	for _, v := range values {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	return s
}
