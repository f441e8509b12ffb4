// Package sink stores batches of raw JSON records in S3 as gzip-compressed
// JSON Lines, under deterministic Hive-style keys:
//
//	<prefix>source=<source>/dt=<yyyy-mm-dd>[/hr=<hh>]/part-<seq:06d>.jsonl.gz
//
// The key depends only on the input and the batch number, so a redelivered
// batch overwrites its own object instead of adding a duplicate. The object
// is the batch's gzip stream exactly as the fetcher compressed it: the
// writer neither decodes nor recompresses records.
package sink

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/sluice-data/sluice/shared/fault"
)

const (
	partPrefix  = "part-"
	partSuffix  = ".jsonl.gz"
	callTimeout = 60 * time.Second
)

// S3API is the part of the S3 client the sink uses.
type S3API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, opts ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error)
}

var _ S3API = (*s3.Client)(nil)

// Sink writes batches to one bucket under one key prefix.
type Sink struct {
	api    S3API
	bucket string
	prefix string
}

// New returns a Sink. prefix may be empty or end in "/".
func New(api S3API, bucket, prefix string) *Sink {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return &Sink{api: api, bucket: bucket, prefix: prefix}
}

// PartitionPrefix is the key prefix of one input's objects.
func (s *Sink) PartitionPrefix(source, hivePath string) string {
	return s.prefix + "source=" + source + "/" + hivePath + "/"
}

// PartKey is the key of batch seq of an input.
func (s *Sink) PartKey(source, hivePath string, seq int) string {
	return s.PartitionPrefix(source, hivePath) + fmt.Sprintf("%s%06d%s", partPrefix, seq, partSuffix)
}

// Written describes one stored object.
type Written struct {
	Key     string
	Records int
	Bytes   int // compressed size
}

// WriteBatch stores gz — a gzip stream of JSON Lines holding records
// records, as packed by the fetcher and checked by the caller — as the
// object at key, byte for byte.
func (s *Sink) WriteBatch(ctx context.Context, key string, gz []byte, records int) (Written, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	_, err := s.api.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(gz),
		ContentLength: aws.Int64(int64(len(gz))),
		ContentType:   aws.String("application/x-ndjson"),
		Metadata:      map[string]string{"records": strconv.Itoa(records)},
	})
	if err != nil {
		return Written{}, fault.Retryable(fmt.Errorf("put s3://%s/%s: %w", s.bucket, key, err))
	}
	return Written{Key: key, Records: records, Bytes: len(gz)}, nil
}

// PruneParts deletes the part objects under prefix whose batch number is
// keep or higher: leftovers of an earlier try of the same input that
// produced more batches. It returns how many it deleted.
func (s *Sink) PruneParts(ctx context.Context, prefix string, keep int) (int, error) {
	var stale []types.ObjectIdentifier
	var token *string
	for {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		out, err := s.api.ListObjectsV2(cctx, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(prefix), ContinuationToken: token})
		cancel()
		if err != nil {
			return 0, fault.Retryable(fmt.Errorf("list s3://%s/%s: %w", s.bucket, prefix, err))
		}
		for _, o := range out.Contents {
			if seq, ok := PartSeq(aws.ToString(o.Key)); ok && seq >= keep {
				stale = append(stale, types.ObjectIdentifier{Key: o.Key})
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		token = out.NextContinuationToken
	}
	deleted := 0
	for len(stale) > 0 {
		chunk := stale[:min(len(stale), 1000)]
		stale = stale[len(chunk):]
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		out, err := s.api.DeleteObjects(cctx, &s3.DeleteObjectsInput{Bucket: aws.String(s.bucket), Delete: &types.Delete{Objects: chunk, Quiet: aws.Bool(true)}})
		cancel()
		if err != nil {
			return deleted, fault.Retryable(fmt.Errorf("delete stale parts under %s: %w", prefix, err))
		}
		if len(out.Errors) > 0 {
			return deleted, fault.Retryable(fmt.Errorf("delete stale parts under %s: %d errors, first: %s", prefix, len(out.Errors), aws.ToString(out.Errors[0].Message)))
		}
		deleted += len(chunk)
	}
	return deleted, nil
}

// PartSeq returns the batch number of a part key.
func PartSeq(key string) (int, bool) {
	base := path.Base(key)
	if !strings.HasPrefix(base, partPrefix) || !strings.HasSuffix(base, partSuffix) {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(base, partPrefix), partSuffix))
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}
