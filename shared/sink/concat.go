package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-data/sluice/shared/fault"
)

// MaxPut is the largest object one PutObject may store (S3's limit):
// Concat stores a larger one in a multipart upload instead.
const MaxPut = 5 << 30

// concatRate is the slowest transfer a Concat's deadline allows for, on
// top of transferTimeout: a 1 GiB file gets 60 s + 256 s.
const concatRate = 4 << 20 // bytes per second

// Concat stores the concatenation of parts — objects of the sink, read in
// order, each exactly its listed Bytes long — as the object at key, in
// one conditional PutObject (If-None-Match: *) whose body streams the
// parts one GET after another: one request where a multipart upload
// takes two plus one per UploadChunk, and memory of a read buffer. The
// object appears whole or not at all: a PUT cut off (a killed process, a
// lost connection) stores nothing and leaves nothing to abort. The body
// can be read again from any offset (a ranged GET of the part there), so
// the SDK's retries of the PUT, and its checksum pass over plain HTTP,
// restart the stream. An object that exists is never replaced: Existed
// reports it. Objects above MaxPut go through Upload.
func (s *Sink) Concat(ctx context.Context, key, contentType string, meta map[string]string, parts []Part) (Uploaded, error) {
	body := &concatReader{ctx: ctx, s: s, parts: parts}
	for _, p := range parts {
		body.size += p.Bytes
	}
	defer body.Close()
	if body.size > MaxPut || body.size == 0 {
		return s.Upload(ctx, key, contentType, meta, func(w io.Writer) error {
			_, err := io.Copy(w, body)
			return err
		})
	}
	cctx, cancel := context.WithTimeout(ctx, transferTimeout+time.Duration(body.size/concatRate)*time.Second)
	defer cancel()
	body.ctx = cctx // the parts' GETs share the PUT's deadline
	_, err := s.api.PutObject(cctx, &s3.PutObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String(key), Body: body, ContentLength: aws.Int64(body.size),
		ContentType: aws.String(contentType), Metadata: meta, IfNoneMatch: aws.String("*"),
	})
	switch code := status(err); {
	case err == nil:
		return Uploaded{Key: key, Bytes: body.size}, nil
	case code == 412 || code == 409:
		size, ok, herr := s.Exists(ctx, key)
		if herr != nil || !ok {
			return Uploaded{}, fault.Retryable(fmt.Errorf("put s3://%s/%s: %w (and then: exists %v, %v)", s.bucket, key, err, ok, herr))
		}
		return Uploaded{Key: key, Bytes: size, Existed: true}, nil
	case body.readErr() != nil: // the parts could not be read: say so, not the PUT's wrapping of it
		return Uploaded{}, body.readErr()
	}
	return Uploaded{}, fault.Retryable(fmt.Errorf("put s3://%s/%s: %w", s.bucket, key, err))
}

// concatReader reads parts as one stream, opening each part as the read
// reaches it; it seeks by reopening the part at the offset.
//
// Its methods hold mu: net/http may go on reading a request body in its
// own goroutine after the call returned (an early answer, a timeout) while
// Concat closes it, or an SDK retry rewinds it. After Close a Read ends
// the stream with errClosed.
type concatReader struct {
	mu     sync.Mutex
	closed bool
	ctx    context.Context
	s      *Sink
	parts  []Part
	size   int64
	pos    int64
	// cur is the open part, idx; nil when none is open (at the start,
	// after a part ends, after a seek).
	cur  io.ReadCloser
	idx  int
	read int64 // of part idx, from its start
	err  error // the last error reading the parts
}

var _ io.ReadSeekCloser = (*concatReader)(nil)

// errClosed is a read of a body Concat is done with.
var errClosed = errors.New("concat: body closed")

func (r *concatReader) Read(b []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, errClosed
	}
	if r.pos >= r.size {
		return 0, io.EOF
	}
	if r.cur == nil {
		if err := r.open(); err != nil {
			r.err = err
			return 0, err
		}
	}
	p := r.parts[r.idx]
	if left := p.Bytes - r.read; int64(len(b)) > left {
		b = b[:left]
	}
	n, err := r.cur.Read(b)
	r.pos, r.read = r.pos+int64(n), r.read+int64(n)
	switch {
	case r.read == p.Bytes:
		r.closeCur()
		return n, nil
	case errors.Is(err, io.EOF):
		r.closeCur()
		r.err = fault.Retryablef("read part %d: %d bytes, the listing says %d", p.Seq, r.read, p.Bytes)
		return n, r.err
	case err != nil:
		r.closeCur()
		r.err = fault.Retryable(fmt.Errorf("read part %d: %w", p.Seq, err))
		return n, r.err
	}
	return n, nil
}

// readErr is the last error reading the parts.
func (r *concatReader) readErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// open opens the part that holds offset pos, from there.
func (r *concatReader) open() error {
	var start int64
	for i, p := range r.parts {
		if r.pos < start+p.Bytes {
			in := &s3.GetObjectInput{Bucket: aws.String(r.s.bucket), Key: aws.String(p.Key)}
			if off := r.pos - start; off > 0 {
				in.Range = aws.String(fmt.Sprintf("bytes=%d-", off))
			}
			out, err := r.s.api.GetObject(r.ctx, in)
			if err != nil {
				return fault.Retryable(fmt.Errorf("get s3://%s/%s: %w", r.s.bucket, p.Key, err))
			}
			r.cur, r.idx, r.read = out.Body, i, r.pos-start
			return nil
		}
		start += p.Bytes
	}
	return io.EOF
}

func (r *concatReader) Seek(offset int64, whence int) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	pos := offset
	switch whence {
	case io.SeekCurrent:
		pos += r.pos
	case io.SeekEnd:
		pos += r.size
	}
	if pos < 0 {
		return r.pos, fmt.Errorf("concat: seek to %d", pos)
	}
	if pos != r.pos {
		r.closeCur()
		r.pos = pos
	}
	return pos, nil
}

func (r *concatReader) closeCur() {
	if r.cur != nil {
		_ = r.cur.Close()
		r.cur = nil
	}
}

// Close closes the part open, if any; later reads fail.
func (r *concatReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	r.closeCur()
	return nil
}
