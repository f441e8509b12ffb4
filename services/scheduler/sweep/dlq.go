package sweep

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/logging"
	"github.com/sluice-data/sluice/shared/redrive"
	"github.com/sluice-data/sluice/shared/runs"
)

// Queue is the part of a dead-letter queue the sweep uses; a
// *consumer.Queue whose URL and DLQURL are both the DLQ's is one (Park
// then sends the message into the same DLQ, with its reason).
type Queue interface {
	Receive(ctx context.Context, n int, wait, visibility time.Duration) ([]consumer.Message, error)
	Delete(ctx context.Context, m consumer.Message) error
	Release(ctx context.Context, m consumer.Message) error
	Park(ctx context.Context, m consumer.Message, cause error) error
}

var _ Queue = (*consumer.Queue)(nil)

// DLQ is one dead-letter queue the sweep reconciles.
type DLQ struct {
	// Inputs says its messages are Inputs (the inputs queue's DLQ), which
	// name no attempt; otherwise they are Fetch, Batch or Done messages.
	Inputs bool
	Queue  Queue
	URL    string // for logs
}

// verdict is what the sweep does with one DLQ message.
type verdict int

const (
	leave      verdict = iota // the run is open, or the message says why it is there
	remove                    // the input no longer needs it
	park                      // it has no reason and its run FAILED: parked again with the run's
	unreadable                // it names no run
)

// reconcile reads up to DLQMessages messages of d, each once, and acts on
// each by its run. Messages left are made visible again at the end.
func (s *Sweeper) reconcile(ctx context.Context, d DLQ, rep *Report) (err error) {
	log := logging.From(ctx).With(zap.String("dlq", d.URL))
	seen := map[string]bool{}
	var left []consumer.Message
	defer func() {
		for _, m := range left {
			if rerr := d.Queue.Release(ctx, m); rerr != nil {
				err = errors.Join(err, fmt.Errorf("sweep %s: %w", d.URL, rerr))
			}
		}
	}()
	for budget := s.cfg.DLQMessages; budget > 0; {
		msgs, err := d.Queue.Receive(ctx, min(10, budget), 0, s.cfg.Hold)
		if err != nil {
			return fmt.Errorf("sweep %s: %w", d.URL, err)
		}
		var fresh []consumer.Message
		for _, m := range msgs {
			if !seen[m.ID] {
				seen[m.ID] = true
				fresh = append(fresh, m)
			}
		}
		if len(fresh) == 0 {
			return nil
		}
		budget -= len(fresh)
		for _, m := range fresh {
			v, run, key, why := s.judge(ctx, d, m)
			fields := []zap.Field{zap.String("message_id", m.ID), zap.String("input", key), zap.Int("attempt", run.Attempt), zap.String("status", string(run.Status))}
			switch v {
			case remove:
				if err := d.Queue.Delete(ctx, m); err != nil {
					left = append(left, m)
					return fmt.Errorf("sweep %s: %w", d.URL, err)
				}
				rep.Deleted++
				log.Info("DLQ message no longer needed; deleted", append(fields, zap.String("reason", why))...)
			case park:
				if err := d.Queue.Park(ctx, m, fault.Permanent(errors.New(why))); err != nil {
					left = append(left, m)
					return fmt.Errorf("sweep %s: %w", d.URL, err)
				}
				if err := d.Queue.Delete(ctx, m); err != nil {
					// Parked twice, once with the reason: the bare copy is
					// parked again (a duplicate) at the next sweep.
					return fmt.Errorf("sweep %s: delete the bare copy of a parked message: %w", d.URL, err)
				}
				rep.Parked++
				log.Info("DLQ message had no reason; parked again with its run's", append(fields, zap.String("reason", why))...)
			case unreadable:
				left = append(left, m)
				rep.Unreadable++
				log.Warn("DLQ message names no run; left in place for a person", zap.String("message_id", m.ID), zap.String("reason", why))
			default:
				left = append(left, m)
				rep.Left++
			}
		}
	}
	return nil
}

// judge decides what to do with DLQ message m, and says why; key is the
// input it belongs to. A run store error leaves the message.
func (s *Sweeper) judge(ctx context.Context, d DLQ, m consumer.Message) (v verdict, run runs.Run, key string, why string) {
	var (
		attempt int
		input   contracts.Input
		err     error
	)
	if d.Inputs {
		input, err = contracts.DecodeInput(m.Body)
	} else {
		input, attempt, err = redrive.InputFor(m.Body)
	}
	if err != nil {
		return unreadable, runs.Run{}, "", err.Error()
	}
	key = input.Key()
	run, err = s.runs.Get(ctx, key)
	if errors.Is(err, runs.ErrNotFound) {
		return leave, runs.Run{}, key, "no run"
	}
	if err != nil {
		logging.From(ctx).Warn("sweep: cannot read the run of a DLQ message; left", zap.String("input", key), zap.Error(err))
		return leave, runs.Run{}, key, err.Error()
	}
	switch {
	case d.Inputs && run.Status == runs.Succeeded && (!input.Force || input.ForceID == run.ForceID):
		return remove, run, key, "the input SUCCEEDED"
	case !d.Inputs && redrive.Superseded(run, attempt, consumer.OriginalID(m)):
		if run.Status == runs.Succeeded {
			return remove, run, key, fmt.Sprintf("the input SUCCEEDED as attempt %d", run.Attempt)
		}
		return remove, run, key, fmt.Sprintf("attempt %d of the message is superseded: attempt %d claimed the input (%s)", attempt, run.Attempt, run.Status)
	}
	if _, ok := m.Attributes[consumer.AttrError]; ok {
		return leave, run, key, "parked with its reason"
	}
	if run.Status == runs.Failed && attempt <= run.Attempt {
		return park, run, key, fmt.Sprintf("run %s attempt %d FAILED (%s): %s", key, run.Attempt, run.ErrorClass, run.LastError)
	}
	if why := s.queuedWorkDied(d, run, attempt); why != "" {
		return park, run, key, why
	}
	return leave, run, key, "the run is open"
}

// queuedWorkDied says why a bare DLQ message of attempt belongs to queued
// work the sweep does not take up (runs.TakesUp) and that is dead: its run
// is CLAIMED or its fetch finished, its lease expired past the grace, and
// this message — its only way on — died on every delivery. "" otherwise.
func (s *Sweeper) queuedWorkDied(d DLQ, run runs.Run, attempt int) string {
	if !run.Status.Live() || runs.TakesUp(run) || run.LeaseUntil >= s.now().Add(-s.cfg.Grace).Unix() || (!d.Inputs && attempt != run.Attempt) {
		return ""
	}
	at := fmt.Sprintf("run %s attempt %d (lease expired %s)", run.Input, run.Attempt, run.LeaseExpiry().Format(time.RFC3339))
	switch {
	case d.Inputs:
		return "dedupe never handed this run to the fetcher: it died on every delivery of its input after the claim; " + at +
			"; look at dedupe's logs, then redrive"
	case run.Status == runs.Claimed:
		return "the fetcher never started this run: it died on every delivery before its first page; " + at +
			"; look at the fetcher's logs, then redrive"
	}
	return "its fetch finished, but this message died on every delivery to the writer; " + at + "; look at the writer's logs, then redrive"
}
