package sink

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/sluice-data/sluice/shared/fault"
)

// Written describes one stored object.
type Written struct {
	Key     string
	Records int
	Bytes   int // compressed size
	// Existed is true when the object was there already, with the same
	// bytes: a redelivered batch.
	Existed bool
}

// ErrConflict means an object that is written once already holds other
// bytes than the ones offered: two writers disagree about a batch.
var ErrConflict = errors.New("object exists with different content")

// WritePart stores gz — a gzip stream of JSON Lines holding records
// records, as packed by the fetcher and checked by the caller — as the
// object at key, byte for byte, unless the object exists (If-None-Match:
// a batch's key is written once). An existing object with the same bytes
// is a redelivery and not an error; with other bytes it is ErrConflict.
func (s *Sink) WritePart(ctx context.Context, key string, gz []byte, records int) (Written, error) {
	w := Written{Key: key, Records: records, Bytes: len(gz)}
	// The SHA-256 goes in the object's metadata: an ETag is an MD5 of the
	// bytes only without SSE-KMS, so it cannot tell a redelivery from a
	// conflict.
	sum := sha256.Sum256(gz)
	digest := hex.EncodeToString(sum[:])
	err := s.putOnce(ctx, key, gz, "application/x-ndjson", map[string]string{metaRecords: strconv.Itoa(records), metaSHA256: digest})
	if !errors.Is(err, errExists) {
		return w, err
	}
	ctx, cancel := context.WithTimeout(ctx, transferTimeout)
	defer cancel()
	head, err := s.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return w, fault.Retryable(fmt.Errorf("head s3://%s/%s: %w", s.bucket, key, err))
	}
	if aws.ToInt64(head.ContentLength) != int64(len(gz)) || head.Metadata[metaSHA256] != digest {
		return w, fault.Permanent(fmt.Errorf("s3://%s/%s: %w", s.bucket, key, ErrConflict))
	}
	w.Existed = true
	return w, nil
}

// Part is one stored batch of an attempt.
type Part struct {
	Key   string `json:"key"`
	Seq   int    `json:"seq"`
	Bytes int64  `json:"bytes"`
}

// Parts lists the parts of an attempt, by batch number.
func (s *Sink) Parts(ctx context.Context, p Partition, attempt int) ([]Part, error) {
	parts, _, err := s.Staged(ctx, p, attempt)
	return parts, err
}

// Files lists the published files of an attempt written so far, in part
// order.
func (s *Sink) Files(ctx context.Context, p Partition, attempt int) ([]File, error) {
	_, files, err := s.Staged(ctx, p, attempt)
	return files, err
}

// Staged lists, in one listing of the attempt, its parts by batch number
// and the files written from them so far, in part order.
func (s *Sink) Staged(ctx context.Context, p Partition, attempt int) ([]Part, []File, error) {
	var parts []Part
	var files []File
	err := s.list(ctx, s.AttemptPrefix(p, attempt), func(o types.Object) {
		key := aws.ToString(o.Key)
		if seq, ok := PartSeq(key); ok {
			parts = append(parts, Part{Key: key, Seq: seq, Bytes: aws.ToInt64(o.Size)})
		} else if first, last, ok := FileRange(key); ok {
			files = append(files, File{Key: key, First: first, Last: last, Bytes: aws.ToInt64(o.Size)})
		}
	})
	slices.SortFunc(parts, func(a, b Part) int { return a.Seq - b.Seq })
	slices.SortFunc(files, func(a, b File) int { return a.First - b.First })
	return parts, files, err
}
