package source

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/pipeline"
)

// The sliced walk. A source with partition.slices cuts each window into
// equal consecutive time slices (pipeline.Partition.SlicesOf); each slice
// is a walk of its own — its requests' {start} and {end} are the slice's
// bounds, so a time-filtered API returns only its records — with its own
// State, and all of them run at once, through the same Client, so that
// the source's rate_limit gates every request of every slice. Their pages
// are handed to one callback, one at a time, in the order they arrive.

// Slice is where the walk of one time slice stands, for a checkpoint:
// plain data that survives a JSON round trip, as State does.
type Slice struct {
	// Next is the Next of the slice's last page handled: its walk goes on
	// from there. nil: from its first page.
	Next *State `json:"next,omitempty"`
	// Done says that the slice's last page was handled: nothing is left to
	// walk.
	Done bool `json:"done,omitempty"`
}

// errSliceStopped ends the walk of a slice after another slice's walk
// ended the window's.
var errSliceStopped = errors.New("another slice stopped the walk")

// FetchSlices walks the time slices of window w (src.Partition.SlicesOf)
// concurrently, each from its entry of from (nil: every slice from its
// first page; an entry Done is not walked), and calls page once per page
// of every slice, one call at a time, in the order the pages arrive; each
// Page says its Slice, and its Number and Next are those of the slice's
// walk (max_pages counts per slice). Within a slice the pages come in
// order, and each slice's walk is FetchFrom's, read-ahead included.
//
// The first slice to stop ends the window's walk: an error of its page or
// of page, returned as is. The other slices are cancelled, and no page is
// handed over after that error's; the requests in flight are dropped
// before FetchSlices returns, so the pages handed over are the
// checkpoint. A permanent error of any slice wins over a retryable one
// (the fetch fails, as it would on the next try), and a stop that asks
// for a wait (fault.RetryAfter: a quota's Retry-After) wins over a bare
// retryable one (another slice's error, the callback's hand-over), so the
// retry waits as the API asks. It returns nil once every slice has walked
// its last page.
func (c *Client) FetchSlices(ctx context.Context, src *pipeline.Source, w pipeline.Window, from []Slice, page func(ctx context.Context, p Page) error) error {
	slices := src.Partition.SlicesOf(w)
	n := len(slices)
	if from == nil {
		from = make([]Slice, n)
	}
	if len(from) != n {
		return fault.Permanentf("source %s: resume: the checkpoint has %d slices, partition.slices is %d (was the config changed?)", src.Name, len(from), n)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu      sync.Mutex // serializes page, and guards what follows
		stopped bool       // no page is handed over any more
		first   error
	)
	keep := func(err error) { // under mu
		if first == nil || outranks(err, first) {
			first = err
		}
		stopped = true
		cancel()
	}
	var wg sync.WaitGroup
	for i, sl := range from {
		if sl.Done {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			handed := false // page returned the walk's error
			err := c.walkSlice(ctx, src, w, i, sl.Next, func(ctx context.Context, p Page) error {
				mu.Lock()
				defer mu.Unlock()
				if stopped {
					return errSliceStopped
				}
				if err := handle(ctx, src, page, p); err != nil {
					handed = true
					keep(err)
					return err
				}
				return nil
			})
			if err == nil || handed || errors.Is(err, errSliceStopped) {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			keep(fmt.Errorf("slice %d of %d (%s): %w", i, n, slices[i], err))
		}()
	}
	wg.Wait()
	return first
}

// outranks says whether err, a slice's stop, is the window's rather than
// first, the stop kept so far: a permanent error over a retryable one, and
// among retryable ones the longest wait asked for (fault.Delay) over a
// shorter one or none; first otherwise.
func outranks(err, first error) bool {
	if p, q := fault.IsPermanent(err), fault.IsPermanent(first); p != q {
		return p
	} else if p {
		return false
	}
	d, _ := fault.Delay(err)
	e, _ := fault.Delay(first)
	return d > e
}

// walkSlice is the walk of slice i, whose panic (a parser bug on an API's
// body, an authorizer's) is its permanent error, with this goroutine's
// stack for the edge to log (fault.PanicError): no recover of the
// caller's goroutine reaches this one.
func (c *Client) walkSlice(ctx context.Context, src *pipeline.Source, w pipeline.Window, i int, from *State, page func(ctx context.Context, p Page) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fault.Recovered(r, "source %s: the walk of slice %d", src.Name, i)
		}
	}()
	return c.walk(ctx, src, w, i, from, page)
}

// handle hands p to page, on a slice's goroutine, which no recover of
// FetchSlices' caller reaches: a panic of page is its permanent error, as
// a panic of the walk's own is walkSlice's, but named for the page.
func handle(ctx context.Context, src *pipeline.Source, page func(ctx context.Context, p Page) error, p Page) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fault.Recovered(r, "source %s: handling page %d of slice %d", src.Name, p.Number, p.Slice)
		}
	}()
	return page(ctx, p)
}
