package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/pipeline"
)

// fetched is a page read whole.
type fetched struct {
	records [][]byte
	bytes   int
	more    bool
}

// fetchPage fetches page n, retrying within MaxAttempts, and moves the pager
// past it.
func (c *Client) fetchPage(ctx context.Context, src *pipeline.Source, pg *pager, n int) (fetched, error) {
	u := pg.url()
	attempts := c.maxAttempts()
	for attempt := 1; ; attempt++ {
		f, cursor, err := c.try(ctx, src, pg, u)
		if err == nil {
			pg.advance(cursor)
			return f, nil
		}
		if ctx.Err() != nil {
			return fetched{}, fault.Retryable(fmt.Errorf("source %s page %d: %w (last attempt: %v)", src.Name, n, ctx.Err(), err))
		}
		if fault.IsPermanent(err) {
			return fetched{}, fmt.Errorf("source %s page %d: %w", src.Name, n, err)
		}
		if attempt >= attempts {
			return fetched{}, fault.Retryable(fmt.Errorf("source %s page %d: gave up after %d attempts: %w", src.Name, n, attempt, err))
		}
		if werr := sleep(ctx, c.delay(attempt, err)); werr != nil {
			return fetched{}, fault.Retryable(fmt.Errorf("source %s page %d: %w (last attempt: %v)", src.Name, n, werr, err))
		}
	}
}

// try makes one attempt at the page at u. Errors are classified.
func (c *Client) try(ctx context.Context, src *pipeline.Source, pg *pager, u string) (fetched, string, error) {
	body, err := c.get(ctx, src, u)
	if err != nil {
		return fetched{}, "", err
	}
	// A body cut short or garbled in transit is likely whole next time.
	if !utf8.Valid(body) {
		return fetched{}, "", fault.Retryablef("body is not valid UTF-8 (%d bytes)", len(body))
	}
	if !gjson.ValidBytes(body) {
		return fetched{}, "", fault.Retryablef("body is not valid JSON (%d bytes)", len(body))
	}
	recs, err := records(body, src.Records.Path)
	if err != nil {
		return fetched{}, "", err
	}
	more, cursor, err := pg.next(body, len(recs))
	if err != nil {
		return fetched{}, "", err
	}
	return fetched{records: recs, bytes: len(body), more: more}, cursor, nil
}

// get sends one GET and returns the body of a 2xx response.
func (c *Client) get(ctx context.Context, src *pipeline.Source, u string) ([]byte, error) {
	timeout := src.Request.Timeout
	if timeout <= 0 {
		timeout = pipeline.DefaultTimeout
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fault.Permanentf("build request: %v", unwrapURLError(err))
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "sluice")
	for k, v := range src.Request.Headers {
		req.Header.Set(k, v)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, fault.Retryable(requestError(ctx, "request", timeout, err))
	}
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		head, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so the connection can be reused
		se := &StatusError{StatusCode: resp.StatusCode, Body: printable(head)}
		if !retryableStatus(resp.StatusCode) {
			return nil, fault.Permanent(se)
		}
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			se.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
		return nil, fault.Retryable(se)
	}

	limit := c.maxBodyBytes()
	buf := bytes.NewBuffer(make([]byte, 0, bodyCap(resp.ContentLength, limit)))
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, limit+1)); err != nil {
		return nil, fault.Retryable(requestError(ctx, "read body", timeout, err))
	}
	if int64(buf.Len()) > limit {
		return nil, fault.Permanentf("body larger than %d bytes; ask for smaller pages (pagination.page_size)", limit)
	}
	return buf.Bytes(), nil
}

// bodyCap is the buffer to allocate up front for a body of the given
// Content-Length (-1 when unknown); one more byte lets ReadFrom see EOF
// without growing the buffer.
func bodyCap(contentLength, limit int64) int {
	if contentLength < 0 || contentLength > limit {
		return 64 << 10
	}
	return int(contentLength) + 1
}

// requestError describes a failed request without its URL, whose query may
// hold credentials, and says so when the per-request timeout struck.
func requestError(ctx context.Context, op string, timeout time.Duration, err error) error {
	err = unwrapURLError(err)
	if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: timed out after %s: %w", op, timeout, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// records returns the elements of the records array at path in body, each
// the raw bytes the API sent. They share one buffer per page, each capped so
// that appending to one cannot overwrite the next.
func records(body []byte, path string) ([][]byte, error) {
	var arr gjson.Result
	if path == "" || path == "@this" {
		arr = gjson.ParseBytes(body)
	} else {
		arr = gjson.GetBytes(body, path)
	}
	switch {
	case !arr.Exists():
		return nil, fault.Permanentf("records path %q not found in body", path)
	case !arr.IsArray():
		return nil, fault.Permanentf("records path %q is %s, not an array", path, kind(arr))
	}
	buf := make([]byte, 0, len(arr.Raw))
	var recs [][]byte
	arr.ForEach(func(_, v gjson.Result) bool {
		start := len(buf)
		buf = append(buf, v.Raw...)
		recs = append(recs, buf[start:len(buf):len(buf)])
		return true
	})
	return recs, nil
}

// delay returns how long to wait before attempt+1: what the server asked for
// with Retry-After, or exponential backoff with jitter.
func (c *Client) delay(attempt int, err error) time.Duration {
	var se *StatusError
	if errors.As(err, &se) && se.RetryAfter > 0 {
		return se.RetryAfter
	}
	d := c.backoffBase()
	for i := 1; i < attempt && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	return d/2 + rand.N(d/2+1) // "equal jitter": spreads retries, keeps a floor
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
