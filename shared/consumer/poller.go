package consumer

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/backoff"
	"github.com/sluice-data/sluice/shared/metrics"
)

// Poller long-polls one SQS queue and runs a handler on each message with
// cfg.Workers workers, cfg.PollWait long polls and cfg.Visibility (see
// Config). A PollWait or ShutdownGrace of zero (or less) means the
// default, as it always has.
type Poller struct {
	q   *Queue
	cfg Config
	log *zap.Logger
	h   Handler
	em  *metrics.Emitter
}

// NewPoller returns a Poller over q. Each receive's messages end with one
// "batch handled" line once they are all settled, which carries the
// service's message metrics (em; nil: none). The caller has validated cfg
// (Config.Validate); a zero Workers, Visibility or HandleTimeout, which
// would stop or crash the poller, takes the default all the same.
func NewPoller(q *Queue, cfg Config, log *zap.Logger, h Handler, em *metrics.Emitter) *Poller {
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.ReceiveBatch <= 0 || cfg.ReceiveBatch > 10 {
		cfg.ReceiveBatch = DefaultReceiveBatch
	}
	if cfg.Visibility <= 0 {
		cfg.Visibility = DefaultVisibility
	}
	if cfg.HandleTimeout <= 0 {
		cfg.HandleTimeout = DefaultHandleTimeout
	}
	if cfg.PollWait <= 0 || cfg.PollWait > 20*time.Second {
		cfg.PollWait = DefaultPollWait
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = DefaultShutdownGrace
	}
	return &Poller{q: q, cfg: cfg, log: log, h: h, em: em}
}

// Run polls until ctx is cancelled, then stops receiving, lets in-flight
// messages finish within the shutdown grace, and returns nil. Messages not
// finished by then are left on the queue for redelivery.
func (p *Poller) Run(ctx context.Context) error {
	handleCtx, cancelHandlers := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHandlers()

	sem := make(chan struct{}, p.cfg.Workers)
	var wg sync.WaitGroup
	failures := 0 // receives failed in a row
	for ctx.Err() == nil {
		// Take one worker slot before receiving, so a message is only
		// received when a worker is free to handle it at once.
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			continue
		}
		free := 1
		for free < min(p.cfg.Workers, p.cfg.ReceiveBatch) {
			select {
			case sem <- struct{}{}:
				free++
				continue
			default:
			}
			break
		}
		msgs, err := p.receive(ctx, free)
		for i := len(msgs); i < free; i++ {
			<-sem
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			failures++
			wait := backoff.Exponential(time.Second, 30*time.Second, failures)
			p.log.Warn("receive failed; backing off", zap.Error(err), zap.Duration("backoff", wait))
			sleep(ctx, wait)
			continue
		}
		failures = 0
		batch := &tally{}
		batch.left.Store(int64(len(msgs)))
		for _, m := range msgs {
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				batch.add(p.handle(handleCtx, m))
				if batch.left.Add(-1) == 0 {
					batch.log(p.log, p.em)
				}
			}()
		}
	}

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(p.cfg.ShutdownGrace):
		p.log.Warn("shutdown grace over; cancelling in-flight handlers", zap.Duration("grace", p.cfg.ShutdownGrace))
		cancelHandlers()
		<-done
	}
	return nil
}

func (p *Poller) receive(ctx context.Context, n int) ([]Message, error) {
	return p.q.Receive(ctx, n, p.cfg.PollWait, p.cfg.Visibility)
}

func (p *Poller) handle(ctx context.Context, m Message) Outcome {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.HandleTimeout)
	defer cancel()
	// Received with p.cfg.Visibility already: the first extension is due
	// at half of it.
	stopExtend := keepHidden(ctx, p.log, p.q, m, p.cfg.Visibility, false)
	outcome, after := Process(ctx, p.log, p.h, p.q, m)
	stopExtend()

	var err error
	switch outcome {
	case Done, Parked:
		err = p.q.Delete(ctx, m)
	case Retry:
		err = p.q.Backoff(ctx, m, after)
	}
	if err != nil {
		p.log.Warn("could not settle message", zap.String("message_id", m.ID), zap.Stringer("outcome", outcome), zap.Error(err))
	}
	return outcome
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
