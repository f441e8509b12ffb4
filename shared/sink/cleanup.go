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
	deleted := 0
	for len(stale) > 0 {
		chunk := stale[:min(len(stale), 1000)]
		stale = stale[len(chunk):]
		cctx, cancel := context.WithTimeout(ctx, transferTimeout)
		out, err := s.api.DeleteObjects(cctx, &s3.DeleteObjectsInput{Bucket: aws.String(s.bucket), Delete: &types.Delete{Objects: chunk, Quiet: aws.Bool(true)}})
		cancel()
		if err != nil {
			return deleted, fault.Retryable(fmt.Errorf("delete old attempts under %s: %w", prefix, err))
		}
		if len(out.Errors) > 0 {
			return deleted, fault.Retryable(fmt.Errorf("delete old attempts under %s: %d errors, first: %s", prefix, len(out.Errors), aws.ToString(out.Errors[0].Message)))
		}
		deleted += len(chunk)
	}
	return deleted, nil
}
