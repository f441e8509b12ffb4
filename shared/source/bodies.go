package source

import (
	"io"
	"slices"
	"sync"
)

// Page bodies are read into buffers taken from a pool, and each buffer
// goes back when the attempt that read it is over (try returns): nothing a
// page hands on points into its body. Its records are copied out, into one
// buffer per page (scanRecords, records); its Next holds strings that
// gjson.GetBytes copies (cursor_path, next_url_path) or numbers; the
// read-ahead's count is a number; errors name a body's size, not its
// bytes. So whatever the walk then does with the page — the packer's
// goroutine packing it, a hand-over, a stop or an error dropping it — the
// buffer is free already, and no buffer crosses a goroutine.
// TestBodiesScribbledAfterUse overwrites every buffer as it goes back and
// checks that the pages of every pagination style are unchanged.

// maxPooledBody is the largest buffer kept for reuse: a rare huge page
// (up to MaxBodyBytes) goes to the GC instead of pinning its memory.
const maxPooledBody = 8 << 20

// minBody is the least a buffer grows by when a body's size is unknown.
const minBody = 64 << 10

var bodyPool sync.Pool // of *[]byte, length 0

// scribble, when set (tests), overwrites each buffer as it goes back to
// the pool, so that anything still reading it reads garbage.
var scribble func([]byte)

// getBody returns an empty buffer of capacity at least size, from the
// pool when it has one large enough.
func getBody(size int) *[]byte {
	if b, _ := bodyPool.Get().(*[]byte); b != nil {
		if cap(*b) >= size {
			return b
		}
		// Too small for this page: left to the GC, and a buffer as large
		// as this page's goes back in its place.
	}
	buf := make([]byte, 0, size)
	return &buf
}

// putBody gives b back to the pool; nothing may read it after.
func putBody(b *[]byte) {
	if b == nil || cap(*b) > maxPooledBody {
		return
	}
	if scribble != nil {
		scribble((*b)[:cap(*b)])
	}
	*b = (*b)[:0]
	bodyPool.Put(b)
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
