package sink

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/sluice-data/sluice/shared/fault"
)

// UploadChunk is the size of each part of a multipart upload but the
// last: S3 wants at least 5 MiB; 8 MiB keeps a 128 MiB file at 16 parts
// and an upload's memory at one chunk.
const UploadChunk = 8 << 20

// Uploaded describes one object stored by Upload.
type Uploaded struct {
	Key   string
	Bytes int64
	// Existed is true when the object was there already (another
	// committer of the same attempt completed it first); its bytes are
	// then what it holds.
	Existed bool
}

// Upload stores what write writes as the object at key, streaming it in
// a multipart upload of UploadChunk parts, so that memory stays at one
// chunk whatever the object's size. The object appears only when the
// upload is completed, after write returned without error: a reader
// never sees it partial. On any failure the upload is aborted (a crash
// leaves an incomplete upload, invisible to readers and to listings,
// which the bucket's lifecycle rule aborts). The completion is
// conditional (If-None-Match), so an object that exists is never
// replaced: Existed reports it.
func (s *Sink) Upload(ctx context.Context, key, contentType string, meta map[string]string, write func(io.Writer) error) (Uploaded, error) {
	cctx, cancel := context.WithTimeout(ctx, transferTimeout)
	created, err := s.api.CreateMultipartUpload(cctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(s.bucket), Key: aws.String(key), ContentType: aws.String(contentType), Metadata: meta,
	})
	cancel()
	if err != nil {
		return Uploaded{}, fault.Retryable(fmt.Errorf("start upload of s3://%s/%s: %w", s.bucket, key, err))
	}
	u := &upload{s: s, ctx: ctx, key: key, id: created.UploadId, buf: bytes.NewBuffer(make([]byte, 0, UploadChunk))}
	res, err := u.run(write)
	if err != nil {
		u.abort()
	}
	return res, err
}

// upload is one multipart upload in progress: an io.Writer that sends a
// part each time UploadChunk bytes are buffered.
type upload struct {
	s     *Sink
	ctx   context.Context
	key   string
	id    *string
	buf   *bytes.Buffer
	parts []types.CompletedPart
	size  int64
}

func (u *upload) run(write func(io.Writer) error) (Uploaded, error) {
	if err := write(u); err != nil {
		return Uploaded{}, fmt.Errorf("write s3://%s/%s: %w", u.s.bucket, u.key, err)
	}
	if u.buf.Len() > 0 || len(u.parts) == 0 {
		if err := u.flush(); err != nil {
			return Uploaded{}, err
		}
	}
	cctx, cancel := context.WithTimeout(u.ctx, transferTimeout)
	defer cancel()
	_, err := u.s.api.CompleteMultipartUpload(cctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(u.s.bucket), Key: aws.String(u.key), UploadId: u.id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: u.parts},
		IfNoneMatch:     aws.String("*"),
	})
	switch code := status(err); {
	case err == nil:
		return Uploaded{Key: u.key, Bytes: u.size}, nil
	case code == 412 || code == 409:
		size, ok, herr := u.s.Exists(u.ctx, u.key)
		if herr != nil || !ok {
			return Uploaded{}, fault.Retryable(fmt.Errorf("complete upload of s3://%s/%s: %w (and then: exists %v, %v)", u.s.bucket, u.key, err, ok, herr))
		}
		return Uploaded{Key: u.key, Bytes: size, Existed: true}, nil
	}
	return Uploaded{}, fault.Retryable(fmt.Errorf("complete upload of s3://%s/%s: %w", u.s.bucket, u.key, err))
}

// Write buffers p, sending a part whenever a chunk is full.
func (u *upload) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		room := UploadChunk - u.buf.Len()
		take := min(room, len(p))
		u.buf.Write(p[:take])
		p, n = p[take:], n+take
		if u.buf.Len() == UploadChunk {
			if err := u.flush(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

func (u *upload) flush() error {
	num := int32(len(u.parts) + 1)
	cctx, cancel := context.WithTimeout(u.ctx, transferTimeout)
	defer cancel()
	out, err := u.s.api.UploadPart(cctx, &s3.UploadPartInput{
		Bucket: aws.String(u.s.bucket), Key: aws.String(u.key), UploadId: u.id, PartNumber: aws.Int32(num),
		Body: bytes.NewReader(u.buf.Bytes()), ContentLength: aws.Int64(int64(u.buf.Len())),
	})
	if err != nil {
		return fault.Retryable(fmt.Errorf("upload part %d of s3://%s/%s: %w", num, u.s.bucket, u.key, err))
	}
	u.parts = append(u.parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
	u.size += int64(u.buf.Len())
	u.buf.Reset()
	return nil
}

// abort gives the upload up, on a context of its own: the caller's may be
// the one that ran out. Its failure leaves the upload to the lifecycle
// rule.
func (u *upload) abort() {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(u.ctx), 10*time.Second)
	defer cancel()
	_, _ = u.s.api.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(u.s.bucket), Key: aws.String(u.key), UploadId: u.id})
}

// Exists reports whether the object at key exists, and its size.
func (s *Sink) Exists(ctx context.Context, key string) (int64, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, transferTimeout)
	defer cancel()
	head, err := s.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if status(err) == 404 {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fault.Retryable(fmt.Errorf("head s3://%s/%s: %w", s.bucket, key, err))
	}
	return aws.ToInt64(head.ContentLength), true, nil
}

// Open streams the object at key. The caller closes it.
func (s *Sink) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	out, err := s.api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fault.Retryable(fmt.Errorf("get s3://%s/%s: %w", s.bucket, key, err))
	}
	return out.Body, nil
}
