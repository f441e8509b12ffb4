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

// Expired returns the runs the sweep may take up whose lease expired
// before t, soonest expired first, reading at most runs.ExpiredReads pages
// of runs.ExpiredPage open runs; see (*runs.Store).Expired.
func (s *Store) Expired(_ context.Context, before time.Time, limit int) ([]runs.Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var open []runs.Run
	for _, k := range slices.Sorted(maps.Keys(s.current)) {
		if r := s.current[k]; r.Status.Live() && r.LeaseUntil < before.Unix() {
			open = append(open, clone(r))
		}
	}
	slices.SortStableFunc(open, func(a, b runs.Run) int { return int(a.LeaseUntil - b.LeaseUntil) })
	again := s.now().Add(-s.cfg.Lease).Unix()
	var out []runs.Run
	for i, r := range open {
		if i%runs.ExpiredPage == 0 && (i/runs.ExpiredPage >= runs.ExpiredReads || (limit > 0 && len(out) >= limit)) {
			break
		}
		if runs.TakesUp(r) && (r.TakenUpAt == 0 || r.TakenUpAt < again) {
			out = append(out, r)
		}
	}
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
	if !runs.TakesUp(r) {
		return runs.NotTakenUp, nil
	}
	expired := func(c runs.Run) bool {
		return c.Attempt == r.Attempt && c.LeaseUntil != 0 && c.LeaseUntil < req.ExpiredBefore.Unix()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	again := now.Add(-s.cfg.Lease).Unix()
	if r.TakeUps >= req.Max && (r.TakeUpAttempt < r.Attempt || r.TakenUpAt < again) {
		if r.Status == runs.Committing {
			return runs.StuckCommitting, nil
		}
		run, ok := s.change(r.Ref(), func(c runs.Run) bool {
			return expired(c) && c.Status == runs.Running && !c.Fetched && c.TakeUps >= req.Max && (c.TakeUpAttempt < c.Attempt || c.TakenUpAt < again)
		}, func(c *runs.Run) {
			c.Status, c.FinishedAt, c.ErrorClass = runs.Failed, stamp(now), runs.ClassCrashed
			c.LastError = logging.Truncate(runs.CrashedReason(c.TakeUps), 1000)
			c.LeaseUntil, c.Checkpoint, c.TakeUps, c.TakenUpAt, c.TakeUpAttempt = 0, "", 0, 0, 0
			c.Rev++
		})
		if !ok {
			return runs.NotTakenUp, nil
		}
		s.logAttempt(run)
		return runs.GivenUp, nil
	}
	open := func(c runs.Run) bool {
		return expired(c) && runs.TakesUp(c) && (c.TakenUpAt == 0 || c.TakenUpAt < again)
	}
	var ok bool
	if r.TakeUps > 0 && r.TakeUpAttempt == r.Attempt {
		// The last take-up of this attempt was not claimed: sent again,
		// and counted.
		_, ok = s.change(r.Ref(), func(c runs.Run) bool { return open(c) && c.TakeUpAttempt == c.Attempt && c.TakeUps < req.Max },
			func(c *runs.Run) { c.TakeUps, c.TakenUpAt = c.TakeUps+1, now.Unix() })
	} else {
		_, ok = s.change(r.Ref(), func(c runs.Run) bool {
			return open(c) && c.TakeUps < req.Max && c.TakeUpAttempt < c.Attempt
		}, func(c *runs.Run) { c.TakeUps, c.TakenUpAt, c.TakeUpAttempt = c.TakeUps+1, now.Unix(), c.Attempt })
	}
	if !ok {
		return runs.NotTakenUp, nil
	}
	return runs.TakenUp, nil
}
