// Package source pages through an HTTP API as a pipeline.Source describes it
// and hands over the records of each page as raw JSON — the bytes the API
// sent, never decoded and re-encoded — so that numbers, escapes and key order
// reach storage unchanged.
//
// Client.Fetch walks the pages of one partition window in order, by page
// number, offset, cursor, next URL in the body, Link header, or in a single
// request. Each page comes with the State that resumes the walk right after
// it, so that a long fetch can checkpoint and go on in another invocation
// with Client.FetchFrom.
//
// Pages known in advance — page_number with a page count or a total,
// offset with a total — are requested up to pagination.concurrency at a
// time, each from the State predicted for it, and handed over one at a
// time, in order, only once the walk's real State is the predicted one:
// the pages and States are the serial walk's, and at most concurrency
// pages wait read ahead of the one being handled. A page shorter than
// predicted makes the rest of the walk serial (ahead.go).
//
// A window cut into time slices (partition.slices) is walked with
// Client.FetchSlices: every slice at once, each its own walk with its own
// State — its requests' {start} and {end} are the slice's bounds — and the
// pages of all of them handed over one at a time as they arrive, each
// saying its slice; the first slice to stop stops them all (slices.go).
//
// Each page is retried in process for the failures of a moment (5xx, 408,
// timeouts, broken connections, truncated or invalid JSON) with exponential
// backoff and full jitter, within the source's retry policy; a 429 or 503
// with Retry-After is waited out without counting as a failure, up to a cap.
// Requests to a source share a token bucket (rate_limit) across every
// goroutine using the Client. A source's Authorizer adds its credentials to
// every request and is asked to refresh them once per page on a 401.
//
// Errors come back classified with package fault: a page that still fails is
// fault.Retryable — the message that asked for the window can be redelivered
// later, and fault.RetryAfter says when if the API said so — while a failure
// that no retry can fix (another 4xx, credentials refused, a records path
// that is not there, a runaway pager) is fault.Permanent at once.
//
// Two promises hold whatever the API answers: the client never calls another
// host than request.base_url's (next URLs, Link headers and redirects to
// another scheme, host or port are refused), and credentials never reach an
// error — URLs in errors have their query values redacted, request headers
// are never included, and error bodies are scrubbed of the values the
// Authorizer added.
package source
