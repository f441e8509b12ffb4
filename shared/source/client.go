package source

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/pipeline"
)

// Defaults for Client, used for a source whose retry section is zero (a
// source built in code; Parse fills in the config's own defaults).
const (
	DefaultMaxAttempts  = pipeline.DefaultMaxAttempts
	DefaultBackoff      = 200 * time.Millisecond
	DefaultMaxBodyBytes = 64 << 20
)

// Client fetches the pages of sources. Its zero value is usable; fields
// left zero take their defaults. A Client is safe for concurrent use, and
// its rate limits hold across every goroutine using it: share one Client
// per process.
type Client struct {
	HTTP *http.Client // nil: http.DefaultClient
	// MaxAttempts and Backoff are the retry policy of sources whose retry
	// section is zero (pipeline.Retry); Parse gives every configured source
	// its own. Defaults 3 and 200ms.
	MaxAttempts int
	Backoff     time.Duration
	// MaxBodyBytes bounds a page body; a larger page is a permanent error
	// (ask for smaller pages with pagination.page_size). Default 64 MiB.
	MaxBodyBytes int64
	// Auth holds the Authorizer of each source that has an auth section,
	// by source name. Fetching such a source without one is a permanent
	// error: its requests could only be refused.
	Auth map[string]Authorizer
	// Sleep waits d or until ctx is done, for backoff, Retry-After and
	// rate limits. nil: a timer, which gives up at once when ctx's deadline
	// would pass first. Tests inject one that does not really wait.
	Sleep func(ctx context.Context, d time.Duration) error

	once     sync.Once
	client   *http.Client // HTTP with redirects kept on their host
	mu       sync.Mutex
	limiters map[string]*rate.Limiter // by source name
}

// New returns a Client using h, with the default retry policy.
func New(h *http.Client) *Client {
	return &Client{HTTP: h, MaxAttempts: DefaultMaxAttempts, Backoff: DefaultBackoff, MaxBodyBytes: DefaultMaxBodyBytes}
}

// Page is one page of records.
type Page struct {
	// Slice is the index of the time slice whose walk the page is of
	// (Client.FetchSlices); 0 when the window is walked whole.
	Slice int
	// Number is the 0-based position of the page in the walk of the
	// window, or of its slice (the first request is page 0, whatever the
	// API numbers it). A walk resumed from a State goes on with the
	// numbers of the walk it resumes.
	Number int
	// Records are the elements of the page's records array, each the raw
	// JSON value exactly as the API sent it. They may point into the
	// page's body: the callback may keep them until it calls Release, and
	// must not read them after.
	Records [][]byte
	// Bytes is the size of the response body.
	Bytes int
	// Next is the state that resumes the walk right after this page (see
	// Client.FetchFrom); nil when this page is the last. The callback may
	// keep it.
	Next *State

	body *bodyRef // the buffer Records point into; nil: none (see Release)
}

// Fetch walks the pages of src for window w from the first and calls page
// once per page, in order, empty pages included. It returns nil when the
// API has no more pages. An error returned by page stops the walk and is
// returned as is. Every other error is classified with package fault and
// says which source and page failed; API errors carry a *StatusError.
func (c *Client) Fetch(ctx context.Context, src *pipeline.Source, w pipeline.Window, page func(ctx context.Context, p Page) error) error {
	return c.FetchFrom(ctx, src, w, nil, page)
}

// FetchFrom is Fetch starting from a checkpoint: from is the Next of the
// last page handled (nil starts from the first page). It hands over
// exactly the pages an uninterrupted walk would have handed over after
// that page.
//
// Pages known in advance (pagination.concurrency above 1; see the package
// doc) are requested up to concurrency at a time and still handed over one
// at a time, in order, each with the Next of the serial walk; every
// request waits for rate_limit. When the walk stops — the last page, an
// error, page returning one, ctx done — the requests still in flight are
// cancelled and their pages dropped before FetchFrom returns, so the last
// page handed over is the checkpoint. An error on a page is returned once
// every page before it has been handed over, as the serial walk would.
// A state that does not fit src (another pagination type, a next URL on
// another host) is a permanent error.
func (c *Client) FetchFrom(ctx context.Context, src *pipeline.Source, w pipeline.Window, from *State, page func(ctx context.Context, p Page) error) error {
	return c.walk(ctx, src, w, -1, from, page)
}

// walk is FetchFrom of the whole window (slice < 0) or of one of its
// time slices.
func (c *Client) walk(ctx context.Context, src *pipeline.Source, w pipeline.Window, slice int, from *State, page func(ctx context.Context, p Page) error) error {
	pg, err := newPager(src, w)
	if err != nil {
		return fault.Permanent(fmt.Errorf("source %s: %w", src.Name, err))
	}
	if slice >= 0 {
		pg.slice = src.Partition.SlicesOf(w)[slice]
	}
	auth, err := c.authorizer(src)
	if err != nil {
		return fault.Permanent(fmt.Errorf("source %s: %w", src.Name, err))
	}
	st := pg.start()
	if from != nil {
		if err := pg.check(*from); err != nil {
			return fault.Permanent(fmt.Errorf("source %s: resume: %w", src.Name, err))
		}
		st = *from
	}
	maxPages := src.Pagination.MaxPages
	if maxPages <= 0 {
		maxPages = pipeline.DefaultMaxPages
	}
	conc := src.Pagination.Concurrency
	var q *readAhead // the pages being fetched ahead of the walk, if any
	defer func() { q.stop() }()
	for {
		if st.Pages >= maxPages {
			return fault.Permanentf("source %s: more than max_pages (%d) pages", src.Name, maxPages)
		}
		var f fetched
		var err error
		switch ok, missed := q.holds(st); {
		case ok && ctx.Err() != nil:
			// A page read ahead may be at hand, but the serial walk would
			// not send its request any more: stop where it would.
			return fault.Retryable(fmt.Errorf("source %s page %d: %w", src.Name, st.Pages, ctx.Err()))
		case ok:
			f, err = q.take()
		default:
			if missed { // the pages are not the size predicted: serial from here
				conc = 1
			}
			q.stop()
			q = nil
			f, err = c.fetchPage(ctx, src, pg, auth, st, conc > 1)
		}
		if err != nil {
			return err
		}
		if q == nil && f.next != nil && conc > 1 && f.ahead > 1 {
			q = c.readAhead(ctx, src, pg, auth, *f.next, len(f.records), min(f.ahead, maxPages-f.next.Pages), conc)
		}
		p := Page{Slice: max(slice, 0), Number: st.Pages, Records: f.records, Bytes: f.bytes, body: f.body}
		if f.next != nil {
			next := *f.next
			p.Next = &next
		}
		if err := page(ctx, p); err != nil {
			return err
		}
		if f.next == nil {
			return nil
		}
		st = *f.next
	}
}

// authorizer returns the Authorizer of src; nil if src has no auth.
func (c *Client) authorizer(src *pipeline.Source) (Authorizer, error) {
	a, ok := c.Auth[src.Name]
	switch {
	case ok && a != nil:
		return a, nil
	case src.Auth.Type != pipeline.NoAuth:
		return nil, fmt.Errorf("auth type %s is configured but the client has no authorizer for the source", src.Auth.Type)
	}
	return nil, nil
}

// httpClient returns HTTP, or http.DefaultClient, made to refuse redirects
// to another scheme, host or port than the request's.
func (c *Client) httpClient() *http.Client {
	c.once.Do(func() {
		h := http.DefaultClient
		if c.HTTP != nil {
			h = c.HTTP
		}
		cp := *h
		next := h.CheckRedirect
		cp.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if !sameOrigin(req.URL, via[0].URL) {
				return fault.Permanentf("redirect to %s refused: not the host of request.base_url", origin(req.URL))
			}
			if next != nil {
				return next(req, via)
			}
			if len(via) >= 10 {
				return fault.Permanentf("stopped after 10 redirects")
			}
			return nil
		}
		c.client = &cp
	})
	return c.client
}

// limiter returns the rate limiter of src, created on first use; nil if
// src is not rate limited.
func (c *Client) limiter(src *pipeline.Source) *rate.Limiter {
	rl := src.RateLimit
	if rl.RequestsPerSecond <= 0 {
		return nil
	}
	limit, burst := rate.Limit(rl.RequestsPerSecond), max(rl.Burst, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.limiters[src.Name]
	if l == nil || l.Limit() != limit || l.Burst() != burst {
		if c.limiters == nil {
			c.limiters = map[string]*rate.Limiter{}
		}
		l = rate.NewLimiter(limit, burst)
		c.limiters[src.Name] = l
	}
	return l
}

// throttle waits for src's rate limit to allow one request.
func (c *Client) throttle(ctx context.Context, src *pipeline.Source) error {
	l := c.limiter(src)
	if l == nil {
		return nil
	}
	r := l.Reserve()
	if d := r.Delay(); d > 0 {
		if err := c.sleep(ctx, d); err != nil {
			r.Cancel()
			return fmt.Errorf("rate limit: %w", err)
		}
	}
	return nil
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	return sleep(ctx, d)
}

func (c *Client) maxBodyBytes() int64 {
	if c.MaxBodyBytes <= 0 {
		return DefaultMaxBodyBytes
	}
	return c.MaxBodyBytes
}
