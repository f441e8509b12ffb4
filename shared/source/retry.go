package source

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-data/sluice/shared/backoff"
	"github.com/sluice-data/sluice/shared/pipeline"
)

// maxRetryAfterHeader is the largest Retry-After read; anything longer is
// as good as "not today".
const maxRetryAfterHeader = 24 * time.Hour

// policy is the retry policy of one source, defaults resolved.
type policy struct {
	maxAttempts   int
	base, max     time.Duration // backoff
	maxRetryAfter time.Duration // longest Retry-After waited out in process
	maxWait       time.Duration // sum of Retry-After waits per page
}

// policy resolves src's retry section: its own values, else the Client's,
// else the defaults.
func (c *Client) policy(src *pipeline.Source) policy {
	r := src.Retry
	p := policy{
		maxAttempts:   firstPositive(r.MaxAttempts, c.MaxAttempts, DefaultMaxAttempts),
		base:          firstPositive(r.BaseDelay, c.Backoff, DefaultBackoff),
		max:           firstPositive(r.MaxDelay, pipeline.DefaultMaxDelay),
		maxRetryAfter: firstPositive(r.MaxRetryAfter, pipeline.DefaultMaxRetryAfter),
		maxWait:       firstPositive(r.MaxWait, pipeline.DefaultMaxWait),
	}
	p.max = max(p.max, p.base)
	return p
}

func firstPositive[T int | time.Duration](vs ...T) T {
	for _, v := range vs {
		if v > 0 {
			return v
		}
	}
	return 0
}

// backoff returns the wait before the attempt after the n-th failed one:
// exponential with full jitter, a random duration in
// [0, min(max, base×2^(n-1))], so that clients failing together do not
// retry together.
func (p policy) backoff(n int) time.Duration {
	return backoff.Full(backoff.Exponential(p.base, p.max, n))
}

// retryableStatus reports whether a request that got code may succeed if
// made again.
func retryableStatus(code int) bool {
	return code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout
}

// parseRetryAfter reads a Retry-After header, in seconds or as an HTTP
// date; 0 if absent, invalid or already past. It is capped at a day.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		d = time.Duration(min(secs, int64(maxRetryAfterHeader/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return max(0, min(d, maxRetryAfterHeader))
}

// sleep waits d or until ctx is done. It gives up at once if ctx's deadline
// comes before d is over: the wait would be wasted.
func sleep(ctx context.Context, d time.Duration) error {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return fmt.Errorf("retry in %s would pass the deadline: %w", d.Round(time.Millisecond), context.DeadlineExceeded)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
