package consumer

import (
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/metrics"
)

// tally counts what became of the messages of one batch — a Lambda
// invocation's records, or one receive of the poller — for the batch's
// one "batch handled" line, which carries the service's message metrics
// (package metrics: MessagesHandled, MessagesParked, MessagesRetried).
type tally struct {
	messages, parked, retried atomic.Int64
	left                      atomic.Int64 // messages of the batch not yet counted (poller)
}

// add counts one message's outcome.
func (t *tally) add(o Outcome) {
	t.messages.Add(1)
	switch o {
	case Parked:
		t.parked.Add(1)
	case Retry:
		t.retried.Add(1)
	}
}

// log writes the batch's line, unless the batch was empty.
func (t *tally) log(log *zap.Logger, m *metrics.Emitter) {
	n, parked, retried := t.messages.Load(), t.parked.Load(), t.retried.Load()
	if n == 0 {
		return
	}
	log.Info("batch handled", zap.Int64("messages", n), zap.Int64("parked", parked), zap.Int64("retried", retried),
		m.Service(metrics.MessagesHandled.Int(n), metrics.MessagesParked.Int(parked), metrics.MessagesRetried.Int(retried)))
}
