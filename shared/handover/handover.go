// Package handover decides how a fetch that ended before its walk did
// goes on in the next invocation: whether the checkpoint it left may be
// continued under the config at hand, and — when the source stopped it
// (a quota, a Retry-After) — how long its continuation waits, or that it
// has stopped too often without progress to go on at all. The fetcher
// acts on these decisions; the commit model test drives the run store
// through the same ones.
package handover

import (
	"fmt"
	"time"

	"github.com/sluice-data/sluice/shared/backoff"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/queue"
)

// Continues reports whether a checkpoint cut under the source config with
// fingerprint cut (pipeline.Source.Fingerprint; "" for a checkpoint that
// has none) may be continued under src. Only under the same config: a
// walk cut under another one restarts from the first page rather than mix
// two configs in one attempt.
func Continues(cut string, src *pipeline.Source) bool {
	return cut == src.Fingerprint()
}

// StopPolicy bounds the stops of a fetch (SLUICE_MAX_STOPS,
// SLUICE_STOP_BACKOFF).
type StopPolicy struct {
	// Max is how many stops in a row without a new page an attempt may
	// make before it fails.
	Max int
	// Backoff is the first wait after a stop that came with no
	// Retry-After and no new page, doubling per stop up to queue.MaxDelay.
	Backoff time.Duration
}

// Stop is how a fetch goes on after a stop.
type Stop struct {
	// Stops counts the stops in a row without a new page, this one
	// included (0 when the stopped walk got a page).
	Stops int
	// Wait is how long the continuation waits: the source's Retry-After;
	// without one, nothing when the walk got a page, else the backoff.
	Wait time.Duration
}

// After decides how a fetch goes on after the source stopped it with
// cause (retryable): stops is the count of stops in a row without a new
// page before this one, progressed whether the stopped walk got a page.
// Past Max stops in a row without progress the fetch cannot progress: the
// error, permanent, says so with cause.
func (p StopPolicy) After(stops int, progressed bool, cause error) (Stop, error) {
	s := Stop{}
	if !progressed {
		s.Stops = stops + 1
	}
	if s.Stops > p.Max {
		return Stop{}, fault.Permanent(fmt.Errorf("no progress over %d stops in a row (SLUICE_MAX_STOPS is %d), the last: %w", s.Stops, p.Max, cause))
	}
	wait, asked := fault.Delay(cause)
	if !asked && !progressed {
		wait = backoff.Exponential(p.Backoff, queue.MaxDelay, s.Stops)
	}
	s.Wait = wait
	return s, nil
}
