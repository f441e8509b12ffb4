package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/pipeline"
)

// fetched is a page read whole.
type fetched struct {
	records [][]byte
	bytes   int
	next    *State
	ahead   int      // pages known to come after this one, when asked (see pager.ahead)
	body    *bodyRef // the buffer records point into, for Page.Release
}

// fetchPage fetches the page at st, trying again within src's retry policy:
//
//   - a failure of the moment (5xx, 408, a 429 or 503 without Retry-After,
//     a timeout, a broken connection, a truncated or non-JSON body) counts
//     against max_attempts and is retried after a backoff;
//   - a 429 or 503 with Retry-After is waited out without counting, up to
//     max_retry_after per wait and max_wait in all; beyond, the fetch stops
//     with an error that asks the queue to wait (fault.RetryAfter);
//   - a 401 makes the source's Authorizer refresh its credentials, once per
//     page, and is final if that brings nothing new;
//   - anything else permanent ends the fetch at once.
//
// With ahead, it also counts the pages known to come after this one.
func (c *Client) fetchPage(ctx context.Context, src *pipeline.Source, pg *pager, auth Authorizer, st State, ahead bool) (fetched, error) {
	pol := c.policy(src)
	n := st.Pages
	var failures int
	var waited time.Duration
	refreshed := false
	counts := countsOf(ctx)
	for {
		if err := c.throttle(ctx, src); err != nil {
			return fetched{}, fault.Retryable(fmt.Errorf("source %s page %d: %w", src.Name, n, err))
		}
		f, err := c.try(ctx, src, pg, auth, st, ahead)
		if err == nil {
			return f, nil
		}
		if ctx.Err() != nil {
			return fetched{}, fault.Retryable(fmt.Errorf("source %s page %d: %w (last attempt: %v)", src.Name, n, ctx.Err(), err))
		}
		var se *StatusError
		if errors.As(err, &se) {
			counts.status(se.StatusCode)
		}
		var wait time.Duration
		switch {
		case se != nil && se.StatusCode == http.StatusUnauthorized && auth != nil:
			if refreshed {
				return fetched{}, fault.Permanent(fmt.Errorf("source %s page %d: credentials refused again after a refresh: %w", src.Name, n, se))
			}
			ok, rerr := auth.Refresh(ctx, se.request)
			if rerr != nil {
				return fetched{}, fmt.Errorf("source %s page %d: refresh credentials after a 401: %w", src.Name, n, rerr)
			}
			if !ok {
				return fetched{}, fault.Permanent(fmt.Errorf("source %s page %d: credentials refused, and auth has no new ones: %w", src.Name, n, se))
			}
			refreshed = true
			counts.retry()
			continue
		case fault.IsPermanent(err):
			return fetched{}, fmt.Errorf("source %s page %d: %w", src.Name, n, err)
		case se != nil && se.RetryAfter > 0:
			wait = se.RetryAfter
			if wait > pol.maxRetryAfter {
				return fetched{}, fault.RetryAfter(fmt.Errorf("source %s page %d: the API asks to wait %s, more than retry.max_retry_after (%s): %w",
					src.Name, n, wait, pol.maxRetryAfter, err), wait)
			}
			if waited+wait > pol.maxWait {
				return fetched{}, fault.RetryAfter(fmt.Errorf("source %s page %d: waited %s for Retry-After already; %s more would pass retry.max_wait (%s): %w",
					src.Name, n, waited, wait, pol.maxWait, err), wait)
			}
			waited += wait
		default:
			failures++
			if failures >= pol.maxAttempts {
				return fetched{}, fault.Retryable(fmt.Errorf("source %s page %d: gave up after %d attempts: %w", src.Name, n, failures, err))
			}
			wait = pol.backoff(failures)
		}
		if werr := c.sleep(ctx, wait); werr != nil {
			return fetched{}, fault.Retryable(fmt.Errorf("source %s page %d: %w (last attempt: %v)", src.Name, n, werr, err))
		}
		counts.retry()
	}
}

// try makes one attempt at the page at st. Errors are classified.
func (c *Client) try(ctx context.Context, src *pipeline.Source, pg *pager, auth Authorizer, st State, ahead bool) (fetched, error) {
	out, err := pg.request(st)
	if err != nil {
		return fetched{}, err
	}
	buf, header, err := c.send(ctx, src, auth, out)
	// The body's buffer goes back to the free list when this attempt
	// fails; the page of one that succeeds owns it (Page.Release).
	keep := false
	defer func() {
		if !keep {
			putBody(buf)
		}
	}()
	if err != nil {
		return fetched{}, err
	}
	body := *buf
	recs, found, err := readRecords(body, src.Records.Path)
	if err != nil {
		return fetched{}, err
	}
	next, err := pg.next(st, response{body: body, header: header, url: out.url, records: len(recs)})
	if err != nil {
		return fetched{}, err
	}
	// No records array is an empty page only where the body says nothing
	// else or the walk ends here on its own: a records path that matches
	// nothing on a page that goes on is a wrong path, not an empty page.
	if !found && !bytes.Equal(bytes.TrimSpace(body), []byte("{}")) && (st.Pages == 0 || next != nil) {
		return fetched{}, fault.Permanentf("records path %q not found in response", src.Records.Path)
	}
	f := fetched{records: recs, bytes: len(body), next: next}
	if ahead && next != nil {
		f.ahead = pg.ahead(st, body, len(recs))
	}
	keep = true
	f.body = newBodyRef(buf)
	return f, nil
}

// send makes one request and returns the body and header of a 2xx
// response. The body is in a buffer of the free list (bodies.go), which
// the caller gives back (putBody) once nothing reads it; on an error it
// is nil or a buffer to give back too.
func (c *Client) send(ctx context.Context, src *pipeline.Source, auth Authorizer, out outgoing) (*[]byte, http.Header, error) {
	timeout := src.Request.Timeout
	if timeout <= 0 {
		timeout = pipeline.DefaultTimeout
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var body io.Reader
	if out.body != nil {
		body = bytes.NewReader(out.body)
	}
	req, err := http.NewRequestWithContext(rctx, out.method, out.url.String(), body)
	if err != nil {
		return nil, nil, fault.Permanent(fmt.Errorf("build request: %w", redactURLError(err)))
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "sluice")
	if out.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range out.headers {
		req.Header[k] = vs
	}
	before, beforeQuery := req.Header.Clone(), req.URL.RawQuery
	if auth != nil {
		if err := auth.Authorize(ctx, req); err != nil {
			return nil, nil, fmt.Errorf("authorize: %w", err)
		}
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		err = requestError(ctx, "request", timeout, err)
		if fault.IsPermanent(err) { // a redirect refused
			return nil, nil, err
		}
		return nil, nil, fault.Retryable(err)
	}
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// Read more than is kept, so that a credential the API echoes is
		// redacted whole before the cut.
		head, _ := io.ReadAll(io.LimitReader(resp.Body, 16*maxErrorBody))
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so the connection can be reused
		se := &StatusError{StatusCode: resp.StatusCode, Body: errorBody(head, credentials(before, beforeQuery, req)), request: req}
		if !retryableStatus(resp.StatusCode) {
			return nil, nil, fault.Permanent(se)
		}
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			se.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
		return nil, nil, fault.Retryable(se)
	}

	limit := c.maxBodyBytes()
	buf := getBody(bodyCap(resp.ContentLength, limit))
	if err := readBody(io.LimitReader(resp.Body, limit+1), buf); err != nil {
		return buf, nil, fault.Retryable(requestError(ctx, "read body", timeout, err))
	}
	if int64(len(*buf)) > limit {
		return buf, nil, fault.Permanentf("body larger than %d bytes; ask for smaller pages (pagination.page_size)", limit)
	}
	return buf, resp.Header, nil
}

// bodyCap is the buffer to ask for up front for a body of the given
// Content-Length (-1 when unknown); one more byte lets readBody see EOF
// without growing the buffer.
func bodyCap(contentLength, limit int64) int {
	if contentLength < 0 || contentLength > limit {
		return minBody
	}
	return int(contentLength) + 1
}

// requestError describes a failed request with its URL redacted, and says
// so when the per-request timeout struck.
func requestError(ctx context.Context, op string, timeout time.Duration, err error) error {
	err = redactURLError(err)
	if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: timed out after %s: %w", op, timeout, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// readRecords checks that body is whole, valid JSON and returns the
// records at path, in one pass where scanRecords can.
func readRecords(body []byte, path string) (recs [][]byte, found bool, err error) {
	if recs, found, ok := scanRecords(body, path); ok {
		return recs, found, nil
	}
	return readRecordsGeneral(body, path)
}

// readRecordsGeneral is readRecords for any body and path.
func readRecordsGeneral(body []byte, path string) ([][]byte, bool, error) {
	// A body cut short or garbled in transit is likely whole next time.
	if !utf8.Valid(body) {
		return nil, false, fault.Retryablef("body is not valid UTF-8 (%d bytes)", len(body))
	}
	if !gjson.ValidBytes(body) {
		return nil, false, fault.Retryablef("body is not valid JSON (%d bytes)", len(body))
	}
	return records(body, path)
}

// records returns the elements of the records array at path in body, each
// the raw bytes the API sent, and whether the path matched: null is an
// empty page, nothing at all is found false. They share one buffer per page,
// each capped so that appending to one cannot overwrite the next.
//
// The body is read through a string that shares its memory (gjson's
// GetBytes would copy the whole array first): no result outlives this
// call, and the records are copied out once, into their buffer.
func records(body []byte, path string) (recs [][]byte, found bool, err error) {
	view := unsafe.String(unsafe.SliceData(body), len(body))
	var arr gjson.Result
	if path == "" || path == "@this" {
		arr = gjson.Parse(view)
	} else {
		arr = gjson.Get(view, path)
	}
	switch {
	case !arr.Exists():
		return nil, false, nil
	case arr.Type == gjson.Null:
		return nil, true, nil
	case !arr.IsArray():
		return nil, false, fault.Permanentf("records path %q is %s, not an array", path, kind(arr))
	}
	buf := make([]byte, 0, len(arr.Raw))
	recs = make([][]byte, 0, 64)
	arr.ForEach(func(_, v gjson.Result) bool {
		start := len(buf)
		buf = append(buf, v.Raw...)
		recs = append(recs, buf[start:len(buf):len(buf)])
		return true
	})
	return recs, true, nil
}
