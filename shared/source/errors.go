package source

import (
	"fmt"
	"net/http"
	"time"
)

// maxErrorBody is how much of an error response's body a StatusError keeps.
const maxErrorBody = 256

// StatusError is an HTTP response with a status other than 2xx. It never
// holds the request's URL or headers, which may carry credentials.
type StatusError struct {
	StatusCode int
	// Body is the start of the response body (up to 256 bytes), made
	// printable, with the request's credentials redacted: the API's own
	// word on what went wrong.
	Body string
	// RetryAfter is the wait a 429 or 503 asked for with Retry-After; 0 if
	// none.
	RetryAfter time.Duration

	// request is the request as sent (credentials included), for
	// Authorizer.Refresh after a 401; never printed.
	request *http.Request
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
