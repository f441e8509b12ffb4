package source

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxErrorBody is how much of an error response's body a StatusError keeps.
const maxErrorBody = 256

// StatusError is an HTTP response with a status other than 2xx. It never
// holds the request's headers, which may carry credentials.
type StatusError struct {
	StatusCode int
	// Body is the start of the response body (up to 256 bytes), made
	// printable: the API's own word on what went wrong.
	Body string
	// RetryAfter is the wait a 429 or 503 asked for, capped at 30s; 0 if
	// none.
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("status %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// retryableStatus reports whether a request that got code may succeed if
// made again.
func retryableStatus(code int) bool {
	return code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout
}

// parseRetryAfter reads a Retry-After header, in seconds or as an HTTP date,
// capped at maxRetryAfter; 0 if absent or invalid.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		d = time.Duration(min(secs, int64(maxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return max(0, min(d, maxRetryAfter))
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
