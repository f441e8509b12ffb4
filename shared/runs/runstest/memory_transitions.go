package runstest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/logging"
	"github.com/sluice-data/sluice/shared/runs"
)

// The Store's transitions, one per transition of *runs.Store, under the
// same conditions (the contract suite checks both).

// Claim takes the input for a new attempt; see (*runs.Store).Claim.
func (s *Store) Claim(_ context.Context, req runs.ClaimRequest) (runs.Run, error) {
	key := contracts.InputKey(req.Source, req.Window)
	now := s.now().UTC()
	if req.Force && req.ForceID == "" {
		return runs.Run{}, fault.Permanentf("claim %s: a forced claim needs a force id", key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, exists := s.current[key]
	if req.Force && req.TakeUp {
		return runs.Run{}, fault.Permanentf("claim %s: a take-up is never forced", key)
	}
	free := !exists || (old.Status.Live() && old.LeaseUntil < now.Unix()) || old.Status == runs.Failed ||
		(req.Force && old.Status == runs.Succeeded && old.ForceID != req.ForceID)
	if req.TakeUp {
		free = exists && runs.TakesUp(old) && old.LeaseUntil < now.Unix()
	}
	if !free {
		if old.ClaimMessage == req.MessageID && req.MessageID != "" && old.Status == runs.Claimed {
			s.logAttempt(old) // our own claim, from an earlier delivery of this message
			return old, nil
		}
		return runs.Run{}, &runs.ClaimLostError{Input: key, Status: old.Status, Attempt: old.Attempt, Until: old.LeaseExpiry()}
	}
	run := runs.Run{
		Input: key, Source: req.Source, Window: req.Window, Status: runs.Claimed, Attempt: max(old.Attempt, req.Floor) + 1,
		RunID: newRunID(), Trigger: req.Trigger, Owner: s.cfg.Owner, ClaimMessage: req.MessageID,
		LeaseUntil: now.Add(s.cfg.Lease).Unix(), ForceID: old.ForceID, ClaimedAt: stamp(now), Rev: old.Rev + 1,
		TakeUps: old.TakeUps, TakenUpAt: old.TakenUpAt, TakeUpAttempt: old.TakeUpAttempt,
		Schema: old.Schema, SchemaChange: old.SchemaChange, // kept across attempts, as the real claim does
	}
	if req.Force {
		run.ForceID = req.ForceID
	}
	s.current[key] = run
	s.logTakeover(run, old.Attempt, now, "lease-expired", "lease expired; taken over by a new claim")
	return run, nil
}

// Start moves the claimed run to RUNNING; see (*runs.Store).Start.
func (s *Store) Start(ctx context.Context, r contracts.Run, fetchMsg string) (runs.Run, error) {
	now := s.now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	run, ok := s.change(r, func(c runs.Run) bool { return c.Attempt == r.Attempt && c.Status == runs.Claimed }, func(c *runs.Run) {
		c.Status, c.StartedAt, c.LeaseUntil, c.FetchMessage, c.Owner = runs.Running, stamp(now), now.Add(s.cfg.Lease).Unix(), fetchMsg, s.cfg.Owner
		c.Rev++
	})
	if !ok {
		return s.restart("start", r, fetchMsg, run, now)
	}
	s.logAttempt(run)
	return run, nil
}

// Continue takes up hop > 0 of a fetch; see (*runs.Store).Continue.
func (s *Store) Continue(ctx context.Context, r contracts.Run, fetchMsg string, hop int) (runs.Run, error) {
	now := s.now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	run, ok := s.change(r, func(c runs.Run) bool {
		return c.Attempt == r.Attempt && c.Status == runs.Running && c.Hops == hop && c.Taken < hop
	}, func(c *runs.Run) {
		c.LeaseUntil, c.FetchMessage, c.Owner, c.Taken, c.Yielded = now.Add(s.cfg.Lease).Unix(), fetchMsg, s.cfg.Owner, hop, false
	})
	if !ok {
		return s.restart("continue", r, fetchMsg, run, now)
	}
	return run, nil
}

// StartHop is Start for hop 0 and Continue for later hops.
func (s *Store) StartHop(ctx context.Context, r contracts.Run, fetchMsg string, hop int) (runs.Run, error) {
	if hop == 0 {
		return s.Start(ctx, r, fetchMsg)
	}
	return s.Continue(ctx, r, fetchMsg, hop)
}

// restart is (*runs.Store).restart; s.mu is held.
func (s *Store) restart(op string, r contracts.Run, fetchMsg string, cur runs.Run, now time.Time) (runs.Run, error) {
	if cur.RunID != r.RunID || cur.FetchMessage != fetchMsg || cur.Status != runs.Running {
		return runs.Run{}, fenced(op, r, cur)
	}
	if cur.LeaseUntil >= now.Unix() && !cur.Yielded {
		wait := cur.LeaseExpiry().Sub(now) + time.Second
		return runs.Run{}, fault.RetryAfter(&runs.LeaseHeldError{Input: r.Key(), Attempt: cur.Attempt, Until: cur.LeaseExpiry(), Owner: cur.Owner}, wait)
	}
	return s.nextAttempt(cur, now, "lease-expired", "lease expired; the fetch restarted as a new attempt"), nil
}

// Restart begins the fetch again as the next attempt; see
// (*runs.Store).Restart.
func (s *Store) Restart(_ context.Context, r contracts.Run, fetchMsg, why string) (runs.Run, error) {
	now := s.now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.current[r.Key()]
	if !ok || cur.Attempt != r.Attempt || cur.RunID != r.RunID || cur.FetchMessage != fetchMsg || cur.Status != runs.Running {
		return runs.Run{}, fenced("restart", r, cur)
	}
	return s.nextAttempt(clone(cur), now, "restarted", why), nil
}

// nextAttempt moves cur, the RUNNING run, to the next attempt, clean, and
// logs the earlier one ABANDONED with class and why; s.mu is held.
func (s *Store) nextAttempt(cur runs.Run, now time.Time, class, why string) runs.Run {
	run := cur
	run.Attempt++
	run.LeaseUntil, run.Owner, run.StartedAt = now.Add(s.cfg.Lease).Unix(), s.cfg.Owner, stamp(now)
	run.Written, run.BatchesExpected, run.Checkpoint, run.Hops, run.Taken, run.Yielded, run.Fetched = nil, nil, "", 0, 0, false, false
	run.Rev++
	s.current[run.Input] = run
	s.logTakeover(run, cur.Attempt, now, class, why)
	return clone(run)
}

// Yield marks the fetch try over; see (*runs.Store).Yield.
func (s *Store) Yield(_ context.Context, r contracts.Run, fetchMsg string) error {
	return s.update("yield", r, func(c runs.Run) bool {
		return c.Attempt == r.Attempt && c.Status == runs.Running && c.FetchMessage == fetchMsg
	}, func(c *runs.Run) { c.Yielded = true })
}

// Fetched records that the fetch finished; see (*runs.Store).Fetched.
func (s *Store) Fetched(_ context.Context, r contracts.Run, fetchMsg string) error {
	return s.update("fetched", r, func(c runs.Run) bool {
		return c.Attempt == r.Attempt && c.Status == runs.Running && c.FetchMessage == fetchMsg
	}, func(c *runs.Run) { c.Fetched = true })
}

// Heartbeat renews the lease; see (*runs.Store).Heartbeat.
func (s *Store) Heartbeat(_ context.Context, r contracts.Run) (time.Time, error) {
	until := s.now().Add(s.cfg.Lease)
	err := s.update("heartbeat", r, func(c runs.Run) bool {
		return c.Attempt == r.Attempt && (c.Status == runs.Claimed || c.Status == runs.Running)
	}, func(c *runs.Run) { c.LeaseUntil = until.Unix() })
	return time.Unix(until.Unix(), 0), err
}

// Checkpoint records a hand-over; see (*runs.Store).Checkpoint.
func (s *Store) Checkpoint(ctx context.Context, r contracts.Run, hop int, state string) error {
	return s.CheckpointFor(ctx, r, hop, state, 0)
}

// CheckpointFor records a hand-over whose continuation comes after wait;
// see (*runs.Store).CheckpointFor.
func (s *Store) CheckpointFor(_ context.Context, r contracts.Run, hop int, state string, wait time.Duration) error {
	lease := s.now().Add(max(wait, 0) + s.cfg.Lease).Unix()
	return s.update("checkpoint", r, func(c runs.Run) bool {
		return c.Attempt == r.Attempt && c.Status == runs.Running && (c.Hops == 0 || c.Hops == hop)
	}, func(c *runs.Run) { c.Checkpoint, c.Hops, c.LeaseUntil = state, hop+1, lease })
}

// BatchWritten counts a batch; see (*runs.Store).BatchWritten.
func (s *Store) BatchWritten(_ context.Context, r contracts.Run, seq int) (runs.Run, error) {
	lease := s.now().Add(s.cfg.Lease).Unix()
	s.mu.Lock()
	defer s.mu.Unlock()
	run, ok := s.change(r, running(r), func(c *runs.Run) {
		if !slices.Contains(c.Written, seq) {
			c.Written = append(slices.Clone(c.Written), seq)
			slices.Sort(c.Written)
		}
		c.LeaseUntil = max(c.LeaseUntil, lease) // never shorter than a stop's wait
	})
	return committingOr(run, ok, "mark batch written", r)
}

// SetTotals records the run's totals; see (*runs.Store).SetTotals.
func (s *Store) SetTotals(_ context.Context, r contracts.Run, batches int, records, bytes int64) (runs.Run, error) {
	lease := s.now().Add(s.cfg.Lease).Unix()
	s.mu.Lock()
	defer s.mu.Unlock()
	run, ok := s.change(r, running(r), func(c *runs.Run) {
		c.BatchesExpected, c.Records, c.Bytes, c.LeaseUntil = &batches, records, bytes, max(c.LeaseUntil, lease)
	})
	return committingOr(run, ok, "set totals", r)
}

func committingOr(run runs.Run, ok bool, op string, r contracts.Run) (runs.Run, error) {
	if ok || (run.Attempt == r.Attempt && run.Status == runs.Committing) {
		return run, nil
	}
	return runs.Run{}, fenced(op, r, run)
}

// BeginCommit decides the commit; see (*runs.Store).BeginCommit.
func (s *Store) BeginCommit(_ context.Context, r contracts.Run) (runs.Run, bool, error) {
	lease := s.now().Add(s.cfg.Lease).Unix()
	s.mu.Lock()
	defer s.mu.Unlock()
	run, won := s.change(r, func(c runs.Run) bool {
		return running(r)(c) && c.BatchesExpected != nil && (*c.BatchesExpected == 0 || len(c.Written) == *c.BatchesExpected)
	}, func(c *runs.Run) { c.Status, c.LeaseUntil = runs.Committing, lease; c.Rev++ })
	switch {
	case won:
		return run, true, nil
	case run.Attempt == r.Attempt && run.Status == runs.Committing:
		run, ok := s.change(r, committing(r), func(c *runs.Run) { c.LeaseUntil = lease })
		if !ok {
			return runs.Run{}, false, fenced("begin commit", r, run)
		}
		return run, false, nil
	}
	return runs.Run{}, false, fenced("begin commit", r, run)
}

// RenewCommit renews a COMMITTING run's lease; see (*runs.Store).RenewCommit.
func (s *Store) RenewCommit(_ context.Context, r contracts.Run) (runs.Run, error) {
	lease := s.now().Add(s.cfg.Lease).Unix()
	s.mu.Lock()
	defer s.mu.Unlock()
	run, ok := s.change(r, committing(r), func(c *runs.Run) { c.LeaseUntil = lease })
	if !ok {
		return runs.Run{}, fenced("renew commit", r, run)
	}
	return run, nil
}

func committing(r contracts.Run) func(runs.Run) bool {
	return func(c runs.Run) bool { return c.Attempt == r.Attempt && c.Status == runs.Committing }
}

// FinishCommit marks the run SUCCEEDED; see (*runs.Store).FinishCommit.
func (s *Store) FinishCommit(_ context.Context, r contracts.Run, objects int) (bool, error) {
	now := s.now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	run, ok := s.change(r, func(c runs.Run) bool { return c.Attempt == r.Attempt && c.Status == runs.Committing }, func(c *runs.Run) {
		c.Status, c.FinishedAt, c.Objects, c.LeaseUntil, c.Checkpoint = runs.Succeeded, stamp(now), objects, 0, ""
		c.TakeUps, c.TakenUpAt, c.TakeUpAttempt = 0, 0, 0
		c.Rev++
	})
	switch {
	case !ok && run.Attempt == r.Attempt && run.Status == runs.Succeeded:
		return false, nil
	case !ok:
		return false, fenced("finish commit", r, run)
	}
	s.logAttempt(run)
	return true, nil
}

// SetSchema records the schema of a COMMITTING run's files; see
// (*runs.Store).SetSchema.
func (s *Store) SetSchema(_ context.Context, r contracts.Run, fingerprint, change string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	run, ok := s.change(r, func(c runs.Run) bool { return c.Attempt == r.Attempt && c.Status == runs.Committing }, func(c *runs.Run) {
		c.Schema, c.SchemaChange = fingerprint, change
	})
	if !ok {
		return fenced("set schema", r, run)
	}
	return nil
}

// Fail marks the run FAILED; see (*runs.Store).Fail.
func (s *Store) Fail(_ context.Context, r contracts.Run, class, msg string) error {
	return s.fail("fail", r, class, msg, runs.Claimed, runs.Running)
}

// FailCommit marks a COMMITTING run FAILED; see (*runs.Store).FailCommit.
func (s *Store) FailCommit(_ context.Context, r contracts.Run, class, msg string) error {
	return s.fail("fail commit", r, class, msg, runs.Committing)
}

func (s *Store) fail(op string, r contracts.Run, class, msg string, from ...runs.Status) error {
	now := s.now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	run, ok := s.change(r, func(c runs.Run) bool { return c.Attempt == r.Attempt && slices.Contains(from, c.Status) }, func(c *runs.Run) {
		c.Status, c.FinishedAt, c.ErrorClass, c.LastError = runs.Failed, stamp(now), class, logging.Truncate(msg, 1000)
		c.LeaseUntil, c.Checkpoint, c.TakeUps, c.TakenUpAt, c.TakeUpAttempt = 0, "", 0, 0, 0
		c.Rev++
	})
	if !ok {
		return fenced(op, r, run)
	}
	s.logAttempt(run)
	return nil
}

// Release ends a live run by hand; see (*runs.Store).Release.
func (s *Store) Release(ctx context.Context, input, reason string, force bool) (runs.Run, error) {
	cur, err := s.Get(ctx, input)
	if err != nil {
		return runs.Run{}, err
	}
	now := s.now().UTC()
	if !cur.Status.Live() {
		return cur, fmt.Errorf("release %s: attempt %d is %s: %w", input, cur.Attempt, cur.Status, runs.ErrNotLive)
	}
	if cur.Status == runs.Committing {
		return cur, fmt.Errorf("release %s: attempt %d is COMMITTING: its commit was decided and may publish at any moment, which a release cannot stop; "+
			"the writer's redelivery finishes it, and once its lease expires (%s) a new trigger takes the input over: %w",
			input, cur.Attempt, cur.LeaseExpiry().Format(time.RFC3339), runs.ErrCommitting)
	}
	if !force && cur.LeaseUntil >= now.Unix() {
		return cur, fmt.Errorf("release %s: attempt %d (%s, owner %s) holds the lease until %s; use --force to end it anyway: %w",
			input, cur.Attempt, cur.Status, cur.Owner, cur.LeaseExpiry().Format(time.RFC3339), runs.ErrLeaseLive)
	}
	err = s.fail("release", cur.Ref(), runs.ClassReleased, reason, runs.Claimed, runs.Running)
	if errors.Is(err, runs.ErrFenced) {
		return cur, fmt.Errorf("release %s: the run changed while releasing it; look again: %w", input, err)
	}
	if err != nil {
		return cur, err
	}
	return s.Get(ctx, input)
}
