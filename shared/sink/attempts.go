package sink

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-data/sluice/shared/fault"
)

// HighestAttempt is the highest attempt the bucket holds anything of for
// the partition: the pointer's attempt (and the one it replaced), and
// every attempt=<n>/ folder under the partition's data. 0: none. A claim
// numbers its attempt above it (runs.ClaimRequest.Floor), so that a lost
// run item never reuses an attempt number. It costs one HEAD and one LIST
// per 1,000 attempt folders.
func (s *Sink) HighestAttempt(ctx context.Context, p Partition) (int, error) {
	ptr, err := s.pointerHead(ctx, s.PointerKey(p))
	if err != nil && !errors.Is(err, ErrNoPointer) {
		return 0, err
	}
	highest := max(ptr.Attempt, ptr.Replaced)
	prefix := s.DataPrefix(p)
	var token *string
	for {
		cctx, cancel := context.WithTimeout(ctx, transferTimeout)
		out, err := s.api.ListObjectsV2(cctx, &s3.ListObjectsV2Input{
			Bucket: aws.String(s.bucket), Prefix: aws.String(prefix), Delimiter: aws.String("/"), ContinuationToken: token,
		})
		cancel()
		if err != nil {
			return 0, fault.Retryable(fmt.Errorf("list s3://%s/%s: %w", s.bucket, prefix, err))
		}
		for _, cp := range out.CommonPrefixes {
			dir := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), prefix), "/")
			if n, err := strconv.Atoi(strings.TrimPrefix(dir, "attempt=")); strings.HasPrefix(dir, "attempt=") && err == nil {
				highest = max(highest, n)
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			return highest, nil
		}
		token = out.NextContinuationToken
	}
}
