package consumer

import (
	"context"
	"sync"

	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/logging"
)

// Classes of giving up, passed to a GiveUpFunc; they are the error classes
// recorded on a FAILED run.
const (
	// ClassPermanent: the handler's error is permanent; no retry can help.
	ClassPermanent = "permanent"
	// ClassRetriesExhausted: the last delivery before the DLQ failed too.
	ClassRetriesExhausted = "retries-exhausted"
)

// GiveUpFunc is what giving up on the work of one message means to its
// handler — for a run, marking it FAILED with class and the cause's text,
// so that what it holds is free at once. Its error is logged, not
// returned: whatever it failed to release must free itself in time (a
// run's lease expires).
type GiveUpFunc func(ctx context.Context, class string, cause error) error

type giveUpKey struct{}

// giveUpSlot holds what the handler registered for one message.
type giveUpSlot struct {
	mu sync.Mutex
	f  GiveUpFunc
}

// OnGiveUp registers f as what giving up means for the message ctx is the
// context of, once the handler knows (a handler knows its run only after
// decoding the message). The last registration wins. Outside the GiveUp
// middleware it does nothing.
func OnGiveUp(ctx context.Context, f GiveUpFunc) {
	if s, ok := ctx.Value(giveUpKey{}).(*giveUpSlot); ok {
		s.mu.Lock()
		s.f = f
		s.mu.Unlock()
	}
}

// GiveUp is the delivery policy that ends a message's work for good, after
// watermill's poison-queue middleware: when h fails permanently, or
// retryably on the message's last delivery (Message.Last), it calls what h
// registered with OnGiveUp, and then returns h's error unchanged for the
// transport to act on (park it, or leave it for the queue's redrive
// policy). A handler that drops a message — a stale or fenced run — returns
// nil, so it is never given up on.
//
// The GiveUpFunc gets a context that outlives the message's: the message
// may have ended with its context (a deadline, a shutdown), and the work
// must be given up on all the same, within the callee's own call timeouts.
func GiveUp(h Handler) Handler {
	return HandlerFunc(func(ctx context.Context, m Message) error {
		slot := &giveUpSlot{}
		err := h.Handle(context.WithValue(ctx, giveUpKey{}, slot), m)
		class, ok := giveUpClass(err, m.Last)
		if !ok {
			return err
		}
		slot.mu.Lock()
		f := slot.f
		slot.mu.Unlock()
		if f == nil {
			return err
		}
		if gerr := f(context.WithoutCancel(ctx), class, err); gerr != nil {
			logging.From(ctx).Warn("could not give up on the message's work; it is freed when its lease expires",
				zap.String("give_up_class", class), zap.NamedError("give_up_error", gerr))
		}
		return err
	})
}

// giveUpClass says whether err, met on a delivery that is the last one or
// not, ends the message's work, and with which class.
func giveUpClass(err error, last bool) (class string, ok bool) {
	switch {
	case err == nil:
		return "", false
	case fault.IsPermanent(err):
		return ClassPermanent, true
	case last:
		return ClassRetriesExhausted, true
	}
	return "", false
}
