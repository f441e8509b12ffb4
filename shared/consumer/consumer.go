// Package consumer runs one transport-free message handler behind both of
// Sluice's transports: an AWS Lambda SQS event source (with partial batch
// responses) and a long-polling SQS loop for local use and containers.
//
// The handler decides nothing about the transport. It returns nil when the
// message is done (including work it chose to drop, such as a lost claim),
// a fault.Permanent error when no retry can help, or any other error to
// have the message redelivered. This package then, in one place:
//
//   - deletes done messages (the poller) or leaves them out of the batch
//     failures (Lambda);
//   - parks permanent failures in the queue's dead-letter queue at once,
//     with the error as message attributes, and deletes the original — so a
//     malformed message is kept for inspection and redrive, never lost, and
//     never retried in vain;
//   - leaves retryable failures for redelivery, until the last delivery it
//     acts on (Message.Last: one before the queue's maxReceiveCount, read
//     from the queue at start-up), where GiveUp parks them itself with the
//     reason — or deletes them when their work is done or taken over — so
//     that the queue's own redrive, which moves a message without a
//     reason, only happens to a message whose process died on both of its
//     last two deliveries;
//   - recovers a handler panic as a permanent failure of that message only;
//   - logs exactly one line per message outcome, with the fields the
//     handler added to the log scope (run id, input, attempt).
//
// Delivery policy that needs to know the handler's work wraps the handler
// as middleware: GiveUp ends that work for good (a run marked FAILED) on a
// permanent error or a failed last delivery, and on the last delivery
// drops the message instead when its work is done or taken over.
package consumer

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/logging"
)

// Message is one queue message as a handler sees it.
type Message struct {
	ID           string
	Body         []byte
	ReceiveCount int // 1 on the first delivery
	// Last: the last delivery the consumer acts on — receive
	// maxReceiveCount-1 or later (1 when maxReceiveCount is 1), one before
	// the queue's redrive policy would move it to the DLQ, so that a
	// process dying on it still leaves one delivery to act on.
	Last bool
	// Final: the queue's own last delivery (receive maxReceiveCount or
	// later): after it, the redrive policy moves the message to the DLQ.
	Final         bool
	Attributes    map[string]string // message attributes of type String
	ReceiptHandle string            // for the transport; handlers ignore it
}

// Handler handles one message. See the package comment for what its error
// means.
type Handler interface {
	Handle(ctx context.Context, m Message) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, m Message) error

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, m Message) error { return f(ctx, m) }

// Parker moves a message that failed permanently to a dead-letter queue.
type Parker interface {
	Park(ctx context.Context, m Message, cause error) error
}

// Outcome is what became of one message.
type Outcome int

const (
	// Done: the message is finished and must be deleted.
	Done Outcome = iota
	// Parked: the message failed permanently and is in the DLQ now; the
	// original must be deleted.
	Parked
	// Retry: the message must stay on the queue to be received again.
	Retry
)

func (o Outcome) String() string {
	switch o {
	case Done:
		return "done"
	case Parked:
		return "parked"
	default:
		return "retry"
	}
}

// maxLoggedError bounds the error text of a log line: an error may quote a
// whole payload, and a log line is no place for one.
const maxLoggedError = 2048

// Process runs h on m and returns what the transport must do with m and,
// for a retry, the wait the handler asked for (fault.RetryAfter; 0 for the
// transport's default). It never panics and logs one line about the
// outcome.
func Process(ctx context.Context, log *zap.Logger, h Handler, p Parker, m Message) (Outcome, time.Duration) {
	start := time.Now()
	ctx, scope := logging.WithScope(ctx, log,
		zap.String(logging.FieldMessageID, m.ID),
		zap.Int(logging.FieldReceive, m.ReceiveCount))

	err := safeHandle(ctx, h, m)
	elapsed := zap.Duration("elapsed", time.Since(start))
	out := scope.Logger()
	if err == nil {
		out.Debug("message done", elapsed)
		return Done, 0
	}
	class := fault.ClassOf(err)
	if class != fault.Stop {
		after, _ := fault.Delay(err)
		out.Warn("message failed; left for redelivery", elapsed,
			zap.String("error_class", class.String()), errorField("error", err), panicStack(err), zap.Duration("retry_after", after))
		return Retry, after
	}
	if perr := p.Park(ctx, m, err); perr != nil {
		out.Error("message failed permanently but could not be parked in the DLQ; left for redelivery", elapsed,
			errorField("error", err), panicStack(err), errorField("park_error", perr))
		return Retry, 0
	}
	out.Error("message failed permanently; parked in the DLQ", elapsed,
		zap.String("error_class", parkClass(err)), errorField("error", err), panicStack(err))
	return Parked, 0
}

// panicStack logs the stack of a panic err carries (fault.PanicError: one
// recovered on a goroutine of the handler's, whose text has no stack);
// nothing for any other error.
func panicStack(err error) zap.Field {
	var p *fault.PanicError
	if !errors.As(err, &p) || len(p.Stack) == 0 {
		return zap.Skip()
	}
	return zap.ByteString("stack", p.Stack)
}

// errorField logs err's text under key, cut to maxLoggedError bytes.
func errorField(key string, err error) zap.Field {
	return zap.String(key, logging.Truncate(err.Error(), maxLoggedError))
}

// ErrPanic marks a recovered handler panic.
var ErrPanic = errors.New("handler panicked")

func safeHandle(ctx context.Context, h Handler, m Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = Panicked(ctx, r)
		}
	}()
	return h.Handle(ctx, m)
}

// Panicked is the message's error for a recovered panic r, the panic
// logged with its stack on ctx's logger (the error carries none): a
// handler's own, or one of a goroutine the handler started, which the
// consumer's recover cannot reach. Call it from the deferred function
// that recovered.
func Panicked(ctx context.Context, r any) error {
	logging.From(ctx).Error("handler panic", zap.String("panic", logging.Truncate(fmt.Sprint(r), maxLoggedError)),
		zap.ByteString("stack", debug.Stack()))
	return fault.Permanent(fmt.Errorf("%w: %v", ErrPanic, r))
}
