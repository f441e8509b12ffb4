package sink

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/sluice-data/sluice/shared/fault"
)

// RemoveAttemptsBelow deletes the objects of the partition's attempts
// numbered below below, except those in keep, and returns how many it
// deleted: the leftovers of failed, abandoned and superseded attempts.
// Higher attempts are never touched: a committer that was paused must not
// delete the work of the attempt that took over from it.
func (s *Sink) RemoveAttemptsBelow(ctx context.Context, p Partition, below int, keep ...int) (int, error) {
	var stale []types.ObjectIdentifier
	prefix := s.DataPrefix(p)
	err := s.list(ctx, prefix, func(o types.Object) {
		dir, _, _ := strings.Cut(strings.TrimPrefix(aws.ToString(o.Key), prefix), "/")
		n, err := strconv.Atoi(strings.TrimPrefix(dir, "attempt="))
		if strings.HasPrefix(dir, "attempt=") && err == nil && n < below && !slices.Contains(keep, n) {
			stale = append(stale, types.ObjectIdentifier{Key: o.Key})
		}
	})
	if err != nil {
		return 0, err
	}
	return s.delete(ctx, prefix, stale)
}

// Own says what CleanUp does with the published attempt's own objects.
type Own int

const (
	// OwnKept: nothing (a v1 attempt published its staged parts).
	OwnKept Own = iota
	// OwnStaged: delete its staged parts and blocks and the files the
	// manifest does not list. For a jsonl attempt: its commit stores
	// every file in one PutObject (output.file_size is at most 1 GiB, a
	// PutObject's limit 5 GiB), so it leaves no multipart upload to abort
	// (one of an earlier try under a parquet output is aborted by the
	// bucket's lifecycle rule, after a day).
	OwnStaged
	// OwnStagedAndUploads: OwnStaged, and abort the multipart uploads left
	// under the attempt (a parquet committer killed mid-upload): one
	// ListMultipartUploads more.
	OwnStagedAndUploads
)

// CleanUp is what a commit does once attempt is published, in one listing
// of the partition: it deletes the objects of the attempts below attempt
// except replaced (as RemoveAttemptsBelow) and, as own says, attempt's
// staged parts and blocks and its files published does not list (files
// of another output or cut, written by an earlier try of the commit), and
// aborts the multipart uploads left under it. It returns how many objects
// of lower attempts and of attempt's own it deleted. Higher attempts are
// never touched.
func (s *Sink) CleanUp(ctx context.Context, p Partition, attempt, replaced int, own Own, published []string) (removed, staged int, err error) {
	var stale, leftovers []types.ObjectIdentifier
	prefix := s.DataPrefix(p)
	err = s.list(ctx, prefix, func(o types.Object) {
		key := aws.ToString(o.Key)
		dir, _, _ := strings.Cut(strings.TrimPrefix(key, prefix), "/")
		n, err := strconv.Atoi(strings.TrimPrefix(dir, "attempt="))
		switch {
		case !strings.HasPrefix(dir, "attempt=") || err != nil:
		case n < attempt && n != replaced:
			stale = append(stale, types.ObjectIdentifier{Key: o.Key})
		case n == attempt && own != OwnKept:
			_, _, file := FileRange(key)
			if _, _, part := PartRange(key); part || (file && !slices.Contains(published, key)) {
				leftovers = append(leftovers, types.ObjectIdentifier{Key: o.Key})
			}
		}
	})
	if err != nil {
		return 0, 0, err
	}
	if removed, err = s.delete(ctx, prefix, stale); err != nil {
		return removed, 0, err
	}
	if own == OwnKept {
		return removed, 0, nil
	}
	if own == OwnStagedAndUploads {
		if err := s.abortUploads(ctx, s.AttemptPrefix(p, attempt)); err != nil {
			return removed, 0, err
		}
	}
	staged, err = s.delete(ctx, prefix, leftovers)
	return removed, staged, err
}

// abortUploads aborts every multipart upload under prefix.
func (s *Sink) abortUploads(ctx context.Context, prefix string) error {
	var key, id *string
	for {
		cctx, cancel := context.WithTimeout(ctx, transferTimeout)
		out, err := s.api.ListMultipartUploads(cctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(s.bucket), Prefix: aws.String(prefix), KeyMarker: key, UploadIdMarker: id})
		cancel()
		if err != nil {
			return fault.Retryable(fmt.Errorf("list uploads under s3://%s/%s: %w", s.bucket, prefix, err))
		}
		for _, u := range out.Uploads {
			cctx, cancel := context.WithTimeout(ctx, transferTimeout)
			_, err := s.api.AbortMultipartUpload(cctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(s.bucket), Key: u.Key, UploadId: u.UploadId})
			cancel()
			if err != nil && status(err) != 404 {
				return fault.Retryable(fmt.Errorf("abort upload of s3://%s/%s: %w", s.bucket, aws.ToString(u.Key), err))
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			return nil
		}
		key, id = out.NextKeyMarker, out.NextUploadIdMarker
	}
}

// delete deletes keys, 1,000 a call, and returns how many it deleted.
func (s *Sink) delete(ctx context.Context, prefix string, stale []types.ObjectIdentifier) (int, error) {
	deleted := 0
	for len(stale) > 0 {
		chunk := stale[:min(len(stale), 1000)]
		stale = stale[len(chunk):]
		cctx, cancel := context.WithTimeout(ctx, transferTimeout)
		out, err := s.api.DeleteObjects(cctx, &s3.DeleteObjectsInput{Bucket: aws.String(s.bucket), Delete: &types.Delete{Objects: chunk, Quiet: aws.Bool(true)}})
		cancel()
		if err != nil {
			return deleted, fault.Retryable(fmt.Errorf("delete under %s: %w", prefix, err))
		}
		if len(out.Errors) > 0 {
			return deleted, fault.Retryable(fmt.Errorf("delete under %s: %d errors, first: %s", prefix, len(out.Errors), aws.ToString(out.Errors[0].Message)))
		}
		deleted += len(chunk)
	}
	return deleted, nil
}
