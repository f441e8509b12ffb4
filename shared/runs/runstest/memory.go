package runstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/runs"
)

// Store is an in-memory run store with the rules of *runs.Store: the same
// conditions, outcomes, errors and history, checked by the same contract
// suite (TestStore). It is for tests of the services that use the store.
//
// Its limits: it lives in one process and is not distributed; it is lost
// with the process; a change is never half-applied and never retried, so
// it has nothing like the SDK retries that *runs.Store recognises as its
// own writes; and its history writes never fail.
type Store struct {
	cfg runs.Config
	now func() time.Time

	mu      sync.Mutex
	current map[string]runs.Run
	history map[string]map[int]runs.Run
}

// New returns an empty Store configured as a *runs.Store would be by cfg
// (its Table is not used), reading the time from now (nil: time.Now).
func New(cfg runs.Config, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{cfg: cfg.WithDefaults(), now: now, current: map[string]runs.Run{}, history: map[string]map[int]runs.Run{}}
}

// Seed makes run the current run of its input, and logs it in the
// history, as if the store had brought it there: for tests that start
// from a given state.
func (s *Store) Seed(run runs.Run) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.current[run.Input] = clone(run)
	s.logAttempt(run)
}

// HeartbeatEvery is the configured heartbeat interval.
func (s *Store) HeartbeatEvery() time.Duration { return s.cfg.Heartbeat }

func stamp(t time.Time) string { return t.Format(time.RFC3339Nano) }

// Get returns the current run of input.
func (s *Store) Get(_ context.Context, input string) (runs.Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.current[input]
	if !ok {
		return runs.Run{}, fmt.Errorf("get run %s: %w", input, runs.ErrNotFound)
	}
	return clone(r), nil
}

// History returns the attempts of input, oldest first.
func (s *Store) History(_ context.Context, input string) ([]runs.Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []runs.Run
	for _, n := range slices.Sorted(maps.Keys(s.history[input])) {
		h := s.history[input][n]
		if cur, ok := s.current[input]; ok && cur.Attempt == n && cur.Rev >= h.Rev {
			h = cur // the run stands for its attempt where it is no older, as in *runs.Store
		}
		out = append(out, clone(h))
	}
	return out, nil
}

// List returns every current run.
func (s *Store) List(context.Context) ([]runs.Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []runs.Run
	for _, k := range slices.Sorted(maps.Keys(s.current)) {
		out = append(out, clone(s.current[k]))
	}
	return out, nil
}

// GetMany returns the current runs of inputs that have one, by input.
func (s *Store) GetMany(_ context.Context, inputs []string) (map[string]runs.Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]runs.Run, len(inputs))
	for _, in := range inputs {
		if r, ok := s.current[in]; ok {
			out[in] = clone(r)
		}
	}
	return out, nil
}

// LatestSucceeded returns the run of the first of inputs whose run
// SUCCEEDED.
func (s *Store) LatestSucceeded(_ context.Context, inputs []string) (runs.Run, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, in := range inputs {
		if r, ok := s.current[in]; ok && r.Status == runs.Succeeded {
			return clone(r), true, nil
		}
	}
	return runs.Run{}, false, nil
}

// running is the condition of the writer's updates.
func running(r contracts.Run) func(runs.Run) bool {
	return func(c runs.Run) bool { return c.Attempt == r.Attempt && c.Status == runs.Running }
}

// change applies apply to r's run if it exists and cond holds, and returns
// the run as changed and true, or as it stands (the zero Run: none) and
// false; s.mu is held.
func (s *Store) change(r contracts.Run, cond func(runs.Run) bool, apply func(*runs.Run)) (runs.Run, bool) {
	cur, ok := s.current[r.Key()]
	if !ok {
		return runs.Run{}, false
	}
	cur = clone(cur)
	if !cond(cur) {
		return cur, false
	}
	apply(&cur)
	s.current[r.Key()] = cur
	return clone(cur), true
}

// update is change for an operation that is done or fenced.
func (s *Store) update(op string, r contracts.Run, cond func(runs.Run) bool, apply func(*runs.Run)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.change(r, cond, apply); !ok {
		return fenced(op, r, cur)
	}
	return nil
}

func fenced(op string, r contracts.Run, cur runs.Run) error {
	return &runs.FencedError{Op: op, Ref: r, Attempt: cur.Attempt, Status: cur.Status}
}

// logTakeover and logAttempt keep the history as *runs.Store does; s.mu
// is held.
// replaced is the attempt run took over from (0: none).
func (s *Store) logTakeover(run runs.Run, replaced int, now time.Time, class, why string) {
	if prev, ok := s.history[run.Input][replaced]; ok && replaced > 0 && prev.Status.Live() {
		prev.Status, prev.FinishedAt, prev.ErrorClass, prev.LastError = runs.Abandoned, stamp(now), class, why
		s.history[run.Input][replaced] = prev
	}
	s.logAttempt(run)
}

func (s *Store) logAttempt(run runs.Run) {
	h := s.history[run.Input]
	if h == nil {
		h = map[int]runs.Run{}
		s.history[run.Input] = h
	}
	if old, ok := h[run.Attempt]; !ok || old.Rev <= run.Rev {
		h[run.Attempt] = clone(run)
	}
}

func clone(r runs.Run) runs.Run {
	r.Written = slices.Clone(r.Written)
	if r.BatchesExpected != nil {
		n := *r.BatchesExpected
		r.BatchesExpected = &n
	}
	return r
}

func newRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}
