package runstest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/sluice-data/sluice/shared/logging"
	"github.com/sluice-data/sluice/shared/runs"
)

// Expired returns the open runs whose lease expired before t, soonest
// expired first; see (*runs.Store).Expired.
func (s *Store) Expired(_ context.Context, before time.Time, limit int) ([]runs.Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []runs.Run
	for _, k := range slices.Sorted(maps.Keys(s.current)) {
		if r := s.current[k]; r.Status.Live() && r.LeaseUntil < before.Unix() {
			out = append(out, clone(r))
		}
	}
	slices.SortStableFunc(out, func(a, b runs.Run) int { return int(a.LeaseUntil - b.LeaseUntil) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// TakeUp takes up an open run whose lease expired; see
// (*runs.Store).TakeUp.
func (s *Store) TakeUp(_ context.Context, req runs.TakeUpRequest) (runs.TakeUpOutcome, error) {
	r, now := req.Run, s.now().UTC()
	if req.Max < 1 {
		return runs.NotTakenUp, fmt.Errorf("take up %s: budget %d, want at least 1", r.Input, req.Max)
	}
	expired := func(c runs.Run) bool {
		return c.Attempt == r.Attempt && c.LeaseUntil != 0 && c.LeaseUntil < req.ExpiredBefore.Unix()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.TakeUps >= req.Max {
		if r.Status == runs.Committing {
			return runs.StuckCommitting, nil
		}
		run, ok := s.change(r.Ref(), func(c runs.Run) bool {
			return expired(c) && (c.Status == runs.Claimed || c.Status == runs.Running) && c.TakeUps >= req.Max
		}, func(c *runs.Run) {
			c.Status, c.FinishedAt, c.ErrorClass = runs.Failed, stamp(now), runs.ClassCrashed
			c.LastError = logging.Truncate(runs.CrashedReason(c.TakeUps), 1000)
			c.LeaseUntil, c.Checkpoint, c.TakeUps, c.TakenUpAt = 0, "", 0, 0
			c.Rev++
		})
		if !ok {
			return runs.NotTakenUp, nil
		}
		s.logAttempt(run)
		return runs.GivenUp, nil
	}
	again := now.Add(-s.cfg.Lease).Unix()
	_, ok := s.change(r.Ref(), func(c runs.Run) bool {
		return expired(c) && c.Status.Live() && c.TakeUps < req.Max && (c.TakenUpAt == 0 || c.TakenUpAt < again)
	}, func(c *runs.Run) { c.TakeUps, c.TakenUpAt = c.TakeUps+1, now.Unix() })
	if !ok {
		return runs.NotTakenUp, nil
	}
	return runs.TakenUp, nil
}
