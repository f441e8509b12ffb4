package consumer

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/metrics"
)

// Settler is what the Lambda transport needs of the queue: parking
// permanent failures, keeping a message hidden while it is handled, and
// shortening the wait before a retry.
type Settler interface {
	Parker
	Hide(ctx context.Context, m Message, d time.Duration) error
	Backoff(ctx context.Context, m Message, after time.Duration) error
}

var _ Settler = (*Queue)(nil)

// Lambda returns an aws-lambda-go handler for SQS events that runs h on each
// record, up to workers at a time, and reports the failed ones as batch item
// failures, so that one bad message never fails its batch-mates. The event
// source mapping must enable ReportBatchItemFailures. maxReceive is the
// queue's maxReceiveCount (Queue.MaxReceive), which tells a handler its
// last delivery (Message.Last).
//
// Lambda's event source mapping receives a message with the queue's
// visibility timeout, which AWS wants at six times the function's timeout
// (90 minutes for a 15-minute fetcher): that long a message would stay
// hidden after its sandbox crashed. So with visibility > 0 each message is
// hidden for visibility at once when its handler starts and again every
// visibility/2 while it runs (the poller's rule, Config.Visibility): a
// message whose sandbox dies with it is back within visibility, and its
// run is taken up again then (a fetch waits out the run's lease first).
// The extensions stop when the invocation answers.
//
// Each invocation ends with one "batch handled" line, which carries the
// service's message metrics (em; nil: none): its records, those parked,
// and those reported failed, to be delivered again.
//
// Parked and done messages are deleted by Lambda when the invocation
// returns; failed ones become visible again after their retry backoff
// (Settler.Backoff), or else within visibility (the queue's visibility
// timeout when visibility is 0).
//
// Lambda kills an invocation at its deadline, response and all, and then
// redelivers the whole batch, finished messages included. So handlers get
// a context that ends replyMargin before the invocation's deadline, records
// not started by then are not started at all, and the response leaves half
// a margin before the deadline whatever is still running: every message not
// finished by then is reported as failed.
//
// What a handler still running after the reply may do: it is a goroutine
// of a sandbox that Lambda freezes once the reply is sent and may thaw for
// a later invocation, with its context long over. Its message is already
// reported failed and will be redelivered, so its retry delay is no longer
// set. A permanent failure is still parked: GiveUp may already have marked
// its run FAILED, and the redelivery, finding the run over, drops the
// message — without the park, nothing would keep it (so such a message can
// be both in the DLQ and redelivered once). Otherwise only work the
// handler does itself goes on — writes it makes while ignoring its
// context, conditioned on its run (a stale run is fenced). Handlers are
// idempotent for that reason among others.
func Lambda(log *zap.Logger, h Handler, q Settler, workers, maxReceive int, visibility time.Duration, em *metrics.Emitter) func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
	if workers < 1 {
		workers = 1
	}
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		late := &lateSettler{Settler: q}
		hctx, cancel := ctx, context.CancelFunc(func() {})
		replyBy := (<-chan time.Time)(nil) // never, without a deadline
		if deadline, ok := ctx.Deadline(); ok {
			margin := replyMargin(time.Until(deadline))
			hctx, cancel = context.WithDeadline(ctx, deadline.Add(-margin))
			t := time.NewTimer(time.Until(deadline.Add(-margin / 2)))
			defer t.Stop()
			replyBy = t.C
		}
		defer cancel()

		var (
			mu       sync.Mutex
			finished = make([]Outcome, len(ev.Records)) // done or parked: not to be redelivered; Retry until then
			wg       sync.WaitGroup
			sem      = make(chan struct{}, workers)
			started  int
		)
		for i := range finished {
			finished[i] = Retry
		}
		for i, rec := range ev.Records {
			if !acquire(hctx, sem) {
				break // too close to the deadline: the rest is left for redelivery
			}
			started++
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				m := fromLambda(rec, maxReceive)
				stopHiding := func() {}
				if visibility > 0 {
					stopHiding = keepHidden(hctx, log, late, m, visibility, true)
				}
				outcome, after := Process(hctx, log, h, late, m)
				stopHiding()
				if outcome != Retry {
					mu.Lock()
					finished[i] = outcome
					mu.Unlock()
					return
				}
				if err := late.Backoff(hctx, m, after); err != nil {
					log.Warn("could not shorten the retry delay", zap.String("message_id", m.ID), zap.Error(err))
				}
			}()
		}
		if started < len(ev.Records) {
			log.Warn("invocation deadline near; messages not started are left for redelivery",
				zap.Int("not_started", len(ev.Records)-started), zap.Int("records", len(ev.Records)))
		}

		allDone := make(chan struct{})
		go func() { wg.Wait(); close(allDone) }()
		select {
		case <-allDone:
		case <-replyBy:
			log.Warn("invocation deadline near; answering while handlers still run, their messages are left for redelivery")
		}

		mu.Lock()
		defer mu.Unlock()
		late.answered.Store(true)
		var resp events.SQSEventResponse
		var t tally
		for i, rec := range ev.Records {
			if finished[i] == Retry {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
			}
			t.add(finished[i])
		}
		t.log(log, em)
		return resp, nil
	}
}

// replyMargin is how long before the invocation deadline handlers are
// stopped: a tenth of the time left, at most 10s, at least 1s.
func replyMargin(remaining time.Duration) time.Duration {
	return max(min(remaining/10, 10*time.Second), time.Second)
}

// acquire takes a slot of sem, unless ctx ends first (checked first, so
// that a free slot never wins over an ended context).
func acquire(ctx context.Context, sem chan struct{}) bool {
	if ctx.Err() != nil {
		return false
	}
	select {
	case sem <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// lateSettler stops shortening retry delays and extending visibility once
// the invocation has answered (parking goes on: see Lambda).
type lateSettler struct {
	Settler
	answered atomic.Bool
}

func (s *lateSettler) Hide(ctx context.Context, m Message, d time.Duration) error {
	if s.answered.Load() {
		return nil
	}
	return s.Settler.Hide(ctx, m, d)
}

func (s *lateSettler) Backoff(ctx context.Context, m Message, after time.Duration) error {
	if s.answered.Load() {
		return nil
	}
	return s.Settler.Backoff(ctx, m, after)
}

func fromLambda(rec events.SQSMessage, maxReceive int) Message {
	n, _ := strconv.Atoi(rec.Attributes["ApproximateReceiveCount"])
	attrs := make(map[string]string, len(rec.MessageAttributes))
	for k, v := range rec.MessageAttributes {
		if v.StringValue != nil {
			attrs[k] = *v.StringValue
		}
	}
	return Message{ID: rec.MessageId, Body: []byte(rec.Body), ReceiveCount: n, Last: last(n, maxReceive), Final: final(n, maxReceive), Attributes: attrs, ReceiptHandle: rec.ReceiptHandle}
}
