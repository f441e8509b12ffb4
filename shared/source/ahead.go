package source

import (
	"context"
	"sync"

	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/pipeline"
)

// The concurrent walk. Pages whose requests are known in advance —
// page_number with total_pages_path or total_path, offset with total_path —
// are fetched up to pagination.concurrency at a time, by predicting the
// State of each page to come from the last one read: the next page number,
// and the records so far (and so the offset) grown by a full page each.
// A prediction is only used once the serial walk reaches it: a page is
// handed over when the State the walk is at is exactly the one its request
// was built from, so that the pages, their Next States and the errors the
// walk returns are those of the serial walk, byte for byte. A page shorter
// than predicted (an API whose page sizes vary) makes the rest of the walk
// serial: its prediction missed, and the pages fetched on it are dropped
// unread.

// ahead returns how many pages the walk has after the page at st, whose
// body says what totals it says and which held records records, on the
// assumption that each of them holds as many; 0 when the totals do not tell
// (no total configured, none in the body, an empty page).
func (p *pager) ahead(st State, body []byte, records int) int {
	if records <= 0 {
		return 0
	}
	left := -1 // pages after this one; -1 unknown
	keep := func(n int) {
		if left < 0 || n < left {
			left = max(n, 0)
		}
	}
	switch p.pg.Type {
	case pipeline.PageNumber:
		if p.pg.TotalPagesPath != "" {
			if total, err := count(body, p.pg.TotalPagesPath); err == nil {
				keep(total - (st.Page - p.pg.StartPage + 1))
			}
		}
		if p.pg.TotalPath != "" {
			if total, err := count(body, p.pg.TotalPath); err == nil {
				keep(ceilDiv(total-(st.Records+records), records))
			}
		}
	case pipeline.Offset:
		if p.pg.TotalPath != "" {
			if total, err := count(body, p.pg.TotalPath); err == nil {
				keep(ceilDiv(total-(st.Offset+records), records))
			}
		}
	}
	return max(left, 0)
}

func ceilDiv(a, b int) int {
	if a <= 0 {
		return 0
	}
	return (a + b - 1) / b
}

// readAhead fetches the n pages predicted from base (the State of the
// first of them, as the serial walk has it) with stride records each, at
// most conc at a time, and hands them over in order. At most conc pages
// are in flight or read and not yet taken. Its methods are for one
// goroutine, the walk's; stop ends it.
type readAhead struct {
	c      *Client
	src    *pipeline.Source
	pg     *pager
	auth   Authorizer
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	base   State
	stride int
	n      int
	head   int           // index of the next page to take
	queue  []chan result // pages head, head+1, … launched and not taken
}

type result struct {
	f   fetched
	err error
}

// readAhead starts fetching the n pages predicted from base.
func (c *Client) readAhead(ctx context.Context, src *pipeline.Source, pg *pager, auth Authorizer, base State, stride, n, conc int) *readAhead {
	ctx, cancel := context.WithCancel(ctx)
	q := &readAhead{c: c, src: src, pg: pg, auth: auth, ctx: ctx, cancel: cancel, base: base, stride: stride, n: n}
	for range min(conc, n) {
		q.launch()
	}
	return q
}

// state is the predicted State of page j of the read-ahead.
func (q *readAhead) state(j int) State {
	st := q.base
	st.Pages += j
	st.Records += j * q.stride
	switch q.pg.pg.Type {
	case pipeline.PageNumber:
		st.Page += j
	case pipeline.Offset:
		st.Offset += j * q.stride
	}
	return st
}

// launch starts fetching the next page not yet launched.
func (q *readAhead) launch() {
	j := q.head + len(q.queue)
	if j >= q.n {
		return
	}
	ch := make(chan result, 1)
	q.queue = append(q.queue, ch)
	st := q.state(j)
	q.wg.Add(1)
	go func() {
		defer q.wg.Done()
		// A panic here (a parser bug on an API's body, an authorizer's)
		// is the page's permanent error, with this goroutine's stack for
		// the edge to log: no recover of the walk's own goroutine reaches
		// this one.
		defer func() {
			if r := recover(); r != nil {
				ch <- result{err: fault.Recovered(r, "source %s: reading a page ahead", q.src.Name)}
			}
		}()
		f, err := q.c.fetchPage(q.ctx, q.src, q.pg, q.auth, st, false)
		ch <- result{f, err}
	}()
}

// holds reports whether the page the read-ahead hands over next is the
// one at st, the State the walk is at. When it is not, missed says whether
// the prediction is not where the walk is (rather than all handed over).
func (q *readAhead) holds(st State) (ok, missed bool) {
	if q == nil || len(q.queue) == 0 {
		return false, false
	}
	if q.state(q.head) != st {
		return false, true
	}
	return true, false
}

// take waits for the page holds said it holds, and then starts fetching
// the next one, so that no more than conc requests are ever in flight.
func (q *readAhead) take() (fetched, error) {
	ch := q.queue[0]
	q.queue = q.queue[1:]
	q.head++
	r := <-ch
	q.launch()
	return r.f, r.err
}

// stop cancels the pages in flight, waits for their goroutines and drops
// what they read. A nil read-ahead is stopped already.
func (q *readAhead) stop() {
	if q == nil {
		return
	}
	q.cancel()
	q.wg.Wait()
	q.queue = nil
}
