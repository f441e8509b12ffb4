package source

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/pipeline"
)

// Defaults for Client.
const (
	DefaultMaxAttempts  = 3
	DefaultBackoff      = 200 * time.Millisecond
	DefaultMaxBodyBytes = 64 << 20
	// maxRetryAfter caps the wait a server may ask for with Retry-After.
	maxRetryAfter = 30 * time.Second
	// maxBackoff caps the exponential backoff.
	maxBackoff = 30 * time.Second
)

// Client fetches the pages of a source. Its zero value is usable; fields
// left zero take their defaults. A Client is safe for concurrent use.
type Client struct {
	HTTP *http.Client // nil: http.DefaultClient
	// MaxAttempts is the number of requests made for one page before giving
	// up with a retryable error. Default 3.
	MaxAttempts int
	// Backoff is the base of the exponential backoff, with jitter, between
	// attempts: about Backoff, 2×Backoff, 4×Backoff... Default 200ms. A
	// Retry-After header on a 429 or 503 is honoured instead (up to 30s).
	Backoff time.Duration
	// MaxBodyBytes bounds a page body; a larger page is a permanent error
	// (ask for smaller pages with pagination.page_size). Default 64 MiB.
	MaxBodyBytes int64
}

// New returns a Client using h, with the default retry policy.
func New(h *http.Client) *Client {
	return &Client{HTTP: h, MaxAttempts: DefaultMaxAttempts, Backoff: DefaultBackoff, MaxBodyBytes: DefaultMaxBodyBytes}
}

// Page is one page of records.
type Page struct {
	// Number is the 0-based position of the page in the window's walk
	// (the first request is page 0, whatever the API numbers it).
	Number int
	// Records are the elements of the page's records array, each the raw
	// JSON value exactly as the API sent it. They are allocated per page:
	// the callback may keep them.
	Records [][]byte
	// Bytes is the size of the response body.
	Bytes int
}

// Fetch walks the pages of src for window w and calls page once per page,
// in order, empty pages included. It returns nil when the API has no more
// pages. An error returned by page stops the walk and is returned as is.
// Every other error is classified with package fault and says which source
// and page failed; API errors carry a *StatusError.
func (c *Client) Fetch(ctx context.Context, src *pipeline.Source, w pipeline.Window, page func(ctx context.Context, p Page) error) error {
	pg, err := newPager(src, w)
	if err != nil {
		return fault.Permanent(fmt.Errorf("source %s: %w", src.Name, err))
	}
	maxPages := src.Pagination.MaxPages
	if maxPages <= 0 {
		maxPages = pipeline.DefaultMaxPages
	}
	for n := 0; ; n++ {
		if n >= maxPages {
			return fault.Permanentf("source %s: more than max_pages (%d) pages", src.Name, maxPages)
		}
		p, err := c.fetchPage(ctx, src, pg, n)
		if err != nil {
			return err
		}
		if err := page(ctx, Page{Number: n, Records: p.records, Bytes: p.bytes}); err != nil {
			return err
		}
		if !p.more {
			return nil
		}
	}
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP == nil {
		return http.DefaultClient
	}
	return c.HTTP
}

func (c *Client) maxAttempts() int {
	if c.MaxAttempts <= 0 {
		return DefaultMaxAttempts
	}
	return c.MaxAttempts
}

func (c *Client) backoffBase() time.Duration {
	if c.Backoff <= 0 {
		return DefaultBackoff
	}
	return c.Backoff
}

func (c *Client) maxBodyBytes() int64 {
	if c.MaxBodyBytes <= 0 {
		return DefaultMaxBodyBytes
	}
	return c.MaxBodyBytes
}
