package source

import (
	"context"
	"net/http"
	"sync/atomic"
)

// Counts tallies what a walk's requests met that its pages do not show:
// the API's 429 and 5xx answers, and the requests made again after a
// failed one (a backoff retry, a Retry-After waited out, a retry with
// refreshed credentials). The fetcher puts them on its run's metrics
// (package metrics). Safe for concurrent use.
type Counts struct {
	TooManyRequests atomic.Int64 // responses 429
	ServerErrors    atomic.Int64 // responses 5xx
	Retries         atomic.Int64 // requests made again after a failed one
}

type countsKey struct{}

// WithCounts returns a context whose walks (Client.Fetch, FetchFrom) tally
// into c, like net/http/httptrace's trace: the walk's signature stays
// that of its pages.
func WithCounts(ctx context.Context, c *Counts) context.Context {
	return context.WithValue(ctx, countsKey{}, c)
}

// countsOf returns the Counts ctx carries, or nil.
func countsOf(ctx context.Context) *Counts {
	c, _ := ctx.Value(countsKey{}).(*Counts)
	return c
}

// status counts a response that failed with code.
func (c *Counts) status(code int) {
	switch {
	case c == nil:
	case code == http.StatusTooManyRequests:
		c.TooManyRequests.Add(1)
	case code >= 500:
		c.ServerErrors.Add(1)
	}
}

// retry counts a request made again.
func (c *Counts) retry() {
	if c != nil {
		c.Retries.Add(1)
	}
}
