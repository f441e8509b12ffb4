package awsconf

import (
	"context"
	"maps"
	"slices"
	"sync"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// Requests counts the AWS requests a process sends, by service and
// operation, retries included: what a run costs in requests, measured
// rather than estimated, and the SQS requests as billed (SQSBilled).
// Services log the counts when they stop.
type Requests struct {
	mu      sync.Mutex
	n       map[string]int64
	billed  map[string]int64 // SQS, see SQSBilled
	payload map[string]int64
}

// Counts returns the counts so far, keyed "Service.Operation" (for example
// "DynamoDB.UpdateItem").
func (r *Requests) Counts() map[string]int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.n)
}

// Keys returns the counted keys in order.
func (r *Requests) Keys() []string {
	return slices.Sorted(maps.Keys(r.Counts()))
}

func (r *Requests) add(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil {
		r.n = map[string]int64{}
	}
	r.n[key]++
}

// middleware counts each attempt of each call: it sits after the retry
// loop in the finalize step.
func (r *Requests) middleware(stack *middleware.Stack) error {
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("sluice-count-requests",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			r.add(awsmiddleware.GetServiceID(ctx) + "." + awsmiddleware.GetOperationName(ctx))
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
}
