package source

import (
	"io"
	"slices"
)

// Page bodies are read into buffers taken from a free list, and each
// buffer goes back when the attempt that read it is over (try returns): nothing a
// page hands on points into its body. Its records are copied out, into one
// buffer per page (scanRecords, records); its Next holds strings that
// gjson.GetBytes copies (cursor_path, next_url_path) or numbers; the
// read-ahead's count is a number; errors name a body's size, not its
// bytes. So whatever the walk then does with the page — the packer's
// goroutine packing it, a hand-over, a stop or an error dropping it — the
// buffer is free already, and no buffer crosses a goroutine.
// TestBodiesScribbledAfterUse overwrites every buffer as it goes back and
// checks that the pages of every pagination style are unchanged.

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
	buf := make([]byte, 0, size)
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
