package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/sluice-data/sluice/shared/fault"
)

// transferTimeout bounds one S3 call of the sink — a request and the SDK's
// retries of it. It is longer than awsconf.CallTimeout because the sink's
// calls move data: a part of up to 1 MiB, a listing of an attempt's parts,
// a DeleteObjects of up to 1,000 keys.
const transferTimeout = 60 * time.Second

// Object metadata keys.
const (
	metaAttempt  = "sluice-attempt"
	metaRunID    = "sluice-run-id"
	metaReplaced = "sluice-replaced"
	metaRecords  = "records"
	metaSHA256   = "sha256"
	metaMembers  = "members" // a block's members: length:crc32c of each, in order
)

// S3API is the part of the S3 client the sink uses.
type S3API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, opts ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, opts ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error)
	CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error)
	UploadPart(ctx context.Context, in *s3.UploadPartInput, opts ...func(*s3.Options)) (*s3.UploadPartOutput, error)
	CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error)
	AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, opts ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
	ListMultipartUploads(ctx context.Context, in *s3.ListMultipartUploadsInput, opts ...func(*s3.Options)) (*s3.ListMultipartUploadsOutput, error)
}

var _ S3API = (*s3.Client)(nil)

// Sink writes batches to one bucket under one key prefix, at the keys its
// Layout names. Code that only needs keys can hold the Layout alone.
type Sink struct {
	Layout
	api    S3API
	bucket string
}

// New returns a Sink. prefix may be empty or end in "/".
func New(api S3API, bucket, prefix string) *Sink {
	return &Sink{Layout: NewLayout(prefix), api: api, bucket: bucket}
}

// Bucket is the sink's bucket.
func (s *Sink) Bucket() string { return s.bucket }

var errExists = errors.New("object exists")

// putOnce puts body at key with If-None-Match: *; errExists if the key is
// taken.
func (s *Sink) putOnce(ctx context.Context, key string, body []byte, contentType string, meta map[string]string) error {
	return s.putOnceFrom(ctx, key, bytes.NewReader(body), int64(len(body)), contentType, meta)
}

// putOnceFrom is putOnce of the size bytes body reads (seekable, for the
// SDK's retries and checksum pass).
func (s *Sink) putOnceFrom(ctx context.Context, key string, body io.ReadSeeker, size int64, contentType string, meta map[string]string) error {
	ctx, cancel := context.WithTimeout(ctx, transferTimeout)
	defer cancel()
	_, err := s.api.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(key),
		Body:          body,
		ContentLength: aws.Int64(size),
		ContentType:   aws.String(contentType),
		Metadata:      meta,
		IfNoneMatch:   aws.String("*"),
	})
	switch {
	case err == nil:
		return nil
	case status(err) == 412:
		return errExists
	default:
		return fault.Retryable(fmt.Errorf("put s3://%s/%s: %w", s.bucket, key, err))
	}
}

// list calls each for every object under prefix, a page at a time.
func (s *Sink) list(ctx context.Context, prefix string, each func(types.Object)) error {
	var token *string
	for {
		cctx, cancel := context.WithTimeout(ctx, transferTimeout)
		out, err := s.api.ListObjectsV2(cctx, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(prefix), ContinuationToken: token})
		cancel()
		if err != nil {
			return fault.Retryable(fmt.Errorf("list s3://%s/%s: %w", s.bucket, prefix, err))
		}
		for _, o := range out.Contents {
			each(o)
		}
		if !aws.ToBool(out.IsTruncated) {
			return nil
		}
		token = out.NextContinuationToken
	}
}

// status is the HTTP status of an AWS error, 0 if it has none.
func status(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}
