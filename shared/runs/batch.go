package runs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/sluice-data/sluice/shared/awsconf"
	"github.com/sluice-data/sluice/shared/backoff"
	"github.com/sluice-data/sluice/shared/fault"
)

// batchGetLimit is the most keys one BatchGetItem may ask for.
const batchGetLimit = 100

// GetMany returns the current runs of inputs that have one, by input: the
// inputs a caller already knows — the windows of a source over a range,
// which the pipeline config enumerates — read by key in batches of 100,
// not by a scan. An input with no run is absent from the map. An input
// asked more than once is read once (DynamoDB refuses a batch whose keys
// repeat).
func (s *Store) GetMany(ctx context.Context, inputs []string) (map[string]Run, error) {
	out := make(map[string]Run, len(inputs))
	inputs = unique(inputs)
	for len(inputs) > 0 {
		n := min(len(inputs), batchGetLimit)
		keys := make([]map[string]types.AttributeValue, 0, n)
		for _, in := range inputs[:n] {
			keys = append(keys, itemKey(in))
		}
		if err := s.batchGet(ctx, keys, out); err != nil {
			return nil, err
		}
		inputs = inputs[n:]
	}
	return out, nil
}

// batchGet reads keys into out, asking again for the keys DynamoDB left
// unprocessed (after a backoff) until none are left or ctx ends.
func (s *Store) batchGet(ctx context.Context, keys []map[string]types.AttributeValue, out map[string]Run) error {
	for try := 1; len(keys) > 0; try++ {
		cctx, cancel := context.WithTimeout(ctx, awsconf.CallTimeout)
		res, err := s.db.BatchGetItem(cctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
			s.cfg.Table: {Keys: keys, ConsistentRead: aws.Bool(true)},
		}})
		cancel()
		if err != nil {
			err = fmt.Errorf("get %d runs: %w", len(keys), err)
			var api smithy.APIError
			if errors.As(err, &api) && api.ErrorCode() == "ValidationException" {
				return fault.Permanent(err) // the request itself is wrong: asking again gets the same answer
			}
			return fault.Retryable(err)
		}
		for _, item := range res.Responses[s.cfg.Table] {
			r, err := decodeRun(item)
			if err != nil {
				return err
			}
			out[r.Input] = r
		}
		keys = res.UnprocessedKeys[s.cfg.Table].Keys
		if len(keys) > 0 {
			select {
			case <-ctx.Done():
				return fault.Retryable(fmt.Errorf("get %d runs: %w", len(keys), ctx.Err()))
			case <-time.After(backoff.Full(backoff.Exponential(50*time.Millisecond, 2*time.Second, try))):
			}
		}
	}
	return nil
}

// LatestSucceeded returns the run of the first of inputs, newest first,
// whose run SUCCEEDED, and false when none did. It reads them by key, a
// batch at a time, and stops at the first batch that holds one: the
// question "what is the latest window source S published?" costs one
// BatchGetItem while the source is healthy.
func (s *Store) LatestSucceeded(ctx context.Context, inputs []string) (Run, bool, error) {
	for len(inputs) > 0 {
		n := min(len(inputs), batchGetLimit)
		got, err := s.GetMany(ctx, inputs[:n])
		if err != nil {
			return Run{}, false, err
		}
		for _, in := range inputs[:n] {
			if r, ok := got[in]; ok && r.Status == Succeeded {
				return r, true, nil
			}
		}
		inputs = inputs[n:]
	}
	return Run{}, false, nil
}

// unique returns inputs without repeats, in their first order.
func unique(inputs []string) []string {
	seen := make(map[string]struct{}, len(inputs))
	out := make([]string, 0, len(inputs))
	for _, in := range inputs {
		if _, ok := seen[in]; !ok {
			seen[in] = struct{}{}
			out = append(out, in)
		}
	}
	return out
}
