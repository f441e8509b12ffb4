package consumer

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"
)

// hider hides a message from other consumers for a while; *Queue is one.
type hider interface {
	Hide(ctx context.Context, m Message, d time.Duration) error
}

var _ hider = (*Queue)(nil)

// Hide makes m invisible for d from now (ChangeMessageVisibility), at most
// SQS's 12 hours.
func (q *Queue) Hide(ctx context.Context, m Message, d time.Duration) error {
	return q.setVisibility(ctx, m, min(d, 12*time.Hour))
}

// keepHidden keeps m invisible for visibility at a time while its handler
// runs: at once when now is set (a message received with the queue's own,
// longer, visibility timeout), then every visibility/2. Because each
// extension only reaches visibility ahead, a consumer that dies with the
// message — a killed process, a crashed Lambda sandbox — leaves it hidden
// for at most visibility, not for the queue's visibility timeout. stop
// ends the extensions and waits for the one in flight.
func keepHidden(ctx context.Context, log *zap.Logger, q hider, m Message, visibility time.Duration, now bool) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	hide := func() {
		if err := q.Hide(ctx, m, visibility); err != nil && !errors.Is(err, context.Canceled) {
			log.Warn("could not extend message visibility", zap.String("message_id", m.ID), zap.Error(err))
		}
	}
	go func() {
		defer close(done)
		if now {
			hide()
		}
		t := time.NewTicker(visibility / 2)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				hide()
			}
		}
	}()
	return func() { cancel(); <-done }
}
