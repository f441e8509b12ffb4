package source

import (
	"io"
	"slices"
	"sync/atomic"
)

// Page bodies are read into buffers taken from a free list. Who owns a
// buffer, and when it goes back:
//
//   - an attempt that fails (a status, a broken or oversized body, a body
//     that is not JSON, a pager error) gives its buffer back before try
//     returns: nothing of it is kept (errors name a body's size, never its
//     bytes);
//   - an attempt that succeeds hands its buffer to its Page, whose Records
//     are slices of it (scanRecords; the general way, records, copies them
//     out). Nothing else of the page points into it: its Next holds
//     strings gjson.GetBytes copies (cursor_path, next_url_path) or
//     numbers, and the read-ahead's count is a number;
//   - the Page's consumer calls Release once it no longer reads the
//     Records (the fetcher: after the packing goroutine has compressed
//     them, services/fetcher/batcher.go). A Page never released — read
//     ahead and dropped on a hand-over, a stop or an error, or handed to a
//     callback that keeps its Records — is left to the GC, which is
//     always safe: only a Release puts a buffer back for reuse.
//
// The tests overwrite every buffer as it goes back (scribble), so that a
// Record read after its page's Release reads garbage
// (TestBodiesReleasedByAnotherGoroutine, TestBodiesScribbledAfterUse).

// The buffers given back are kept on a short free list rather than in a
// sync.Pool: the walk allocates fast enough (records, batches) that a GC
// comes every few pages, and each GC empties a sync.Pool — a third of the
// bodies were still allocated fresh with one. keptBodies covers the pages
// a walk has in flight at once (one attempt each, pagination.concurrency of
// them reading ahead), and the list holds at most keptBodies ×
// maxKeptBody; a buffer beyond either goes to the GC, so that a rare huge
// page (up to MaxBodyBytes) does not pin its memory.
const (
	keptBodies  = 8
	maxKeptBody = 2 << 20
)

// minBody is the least a buffer grows by when a body's size is unknown.
const minBody = 64 << 10

var freeBodies = make(chan *[]byte, keptBodies) // each of length 0

// scribble, when set (tests), overwrites each buffer as it is given back,
// so that anything still reading it reads garbage.
var scribble func([]byte)

// getBody returns an empty buffer of capacity at least size, from the
// free list when it has one large enough.
func getBody(size int) *[]byte {
	select {
	case b := <-freeBodies:
		if cap(*b) >= size {
			return b
		}
		// Too small for this page: left to the GC, and a buffer as large
		// as this page's goes back in its place.
	default:
	}
	// In whole steps of minBody, so that the buffer fits the pages after
	// this one, whose bodies are a few bytes larger or smaller.
	buf := make([]byte, 0, (size+minBody-1)/minBody*minBody)
	return &buf
}

// putBody gives b back; nothing may read it after.
func putBody(b *[]byte) {
	if b == nil || cap(*b) > maxKeptBody {
		return
	}
	if scribble != nil {
		scribble((*b)[:cap(*b)])
	}
	*b = (*b)[:0]
	select {
	case freeBodies <- b:
	default: // the list is full: to the GC
	}
}

// readBody appends what r holds, up to EOF, to *b, growing it only when it
// is full: a buffer with room for the whole body (Content-Length + 1) is
// read into without a copy, and sees EOF in the spare byte.
func readBody(r io.Reader, b *[]byte) error {
	buf := *b
	defer func() { *b = buf }()
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, max(minBody, cap(buf)))
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// bodyRef is a page's hold on its body's buffer, shared by the copies of
// the Page, so that it is given back once at most.
type bodyRef struct{ buf atomic.Pointer[[]byte] }

func newBodyRef(b *[]byte) *bodyRef {
	r := &bodyRef{}
	r.buf.Store(b)
	return r
}

// Release gives the page's body back for the pages after it to be read
// into. Call it once the Records are no longer read: after it they may
// hold another page's bytes. It may be called again, on any copy of the
// Page, and from any goroutine; a Page not released is left to the GC.
func (p Page) Release() {
	if p.body == nil {
		return
	}
	if b := p.body.buf.Swap(nil); b != nil {
		putBody(b)
	}
}
