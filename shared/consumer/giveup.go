package consumer

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/logging"
)

// Classes of giving up, passed to a GiveUpFunc; they are the error classes
// recorded on a FAILED run, and ClassRetriesExhausted is also the
// sluice-error-class of a message parked on its last delivery.
const (
	// ClassPermanent: the handler's error is permanent; no retry can help.
	ClassPermanent = "permanent"
	// ClassRetriesExhausted: the last delivery before the DLQ failed too.
	ClassRetriesExhausted = "retries-exhausted"
)

// ErrRetriesExhausted marks the error of a message that failed retryably
// on its last delivery and is parked by the consumer itself (GiveUp), so
// that it reaches the DLQ with its reason rather than by the queue's own
// count, without one.
var ErrRetriesExhausted = errors.New("retries exhausted")

// Fate is what giving up found of a message's work.
type Fate int

const (
	// Unfinished: the work is not done and nothing newer does it; the
	// message is kept — parked in the DLQ with its reason, for a person
	// or a redrive.
	Unfinished Fate = iota
	// Superseded: the work is done or newer work has taken it over (its
	// run SUCCEEDED, or a newer attempt owns it). On its last delivery the
	// message is no longer needed and is deleted.
	Superseded
)

// GiveUpFunc is what giving up on the work of one message means to its
// handler — for a run, marking it FAILED with class and the cause's text,
// so that what it holds is free at once — and it says what it found the
// work to be. Its error is logged, not returned, and the message is then
// taken as Unfinished: whatever it failed to release must free itself in
// time (a run's lease expires).
type GiveUpFunc func(ctx context.Context, class string, cause error) (Fate, error)

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
// watermill's poison-queue middleware. When h fails permanently it calls
// what h registered with OnGiveUp and returns h's error unchanged, for the
// transport to park. When h fails retryably on the message's last
// delivery (Message.Last) it calls it too, and then either drops the
// message — its work is Superseded: GiveUp logs that and returns nil — or
// returns a permanent error wrapping ErrRetriesExhausted and h's error, so
// that the transport parks the message itself with its reason instead of
// leaving it to the queue's redrive policy, which moves a message without
// one. A handler that drops a message — a stale or fenced run — returns
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
		fate := Unfinished
		if f != nil {
			var gerr error
			if fate, gerr = f(context.WithoutCancel(ctx), class, err); gerr != nil {
				if class == ClassRetriesExhausted && !m.Final {
					// The give-up itself failed, and the queue still has a
					// delivery of the message: leave it that one, rather
					// than park the message whose work is not settled.
					logging.From(ctx).Warn("could not give up on the message's work; left for the queue's last delivery",
						zap.String("give_up_class", class), zap.NamedError("give_up_error", gerr))
					return err
				}
				fate = Unfinished
				logging.From(ctx).Warn("could not give up on the message's work; it is freed when its lease expires",
					zap.String("give_up_class", class), zap.NamedError("give_up_error", gerr))
			}
		}
		if class == ClassPermanent {
			return err
		}
		if fate == Superseded {
			logging.From(ctx).Info("last delivery failed, but the message's work is done or taken over by a newer attempt; message deleted",
				errorField("error", err))
			return nil
		}
		return fault.Permanent(fmt.Errorf("%w on receive %d: %w", ErrRetriesExhausted, m.ReceiveCount, err))
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

// parkClass is the sluice-error-class of a message parked for err.
func parkClass(err error) string {
	if errors.Is(err, ErrRetriesExhausted) {
		return ClassRetriesExhausted
	}
	return fault.ClassOf(err).String()
}
