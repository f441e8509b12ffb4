package pipeline

import (
	"errors"
	"fmt"
	"time"

	"github.com/sluice-data/sluice/shared/fault"
)

// The reasons a window of a source is refused by Source.CheckDue. Each
// error wraps one of them and is permanent: the same input can never be
// fetched early, and a window before the start never.
var (
	// ErrNotDue: the window has not ended, or ended less than
	// partition.lag ago. Fetched now it would be marked done with part of
	// its data, and its scheduled run dropped as a duplicate.
	ErrNotDue = errors.New("window not due yet")
	// ErrBeforeStart: the window starts before partition.start.
	ErrBeforeStart = errors.New("window before the source's start")
)

// ClockSkew is how far ahead of a checker's clock a window may be due and
// still be taken as due soon rather than refused: the scheduler expands at
// its clock, dedupe checks at its own, and a window due at the boundary
// must not be parked for a person because the two disagree by a moment.
const ClockSkew = 2 * time.Minute

// CheckDue returns nil if window w of the source may be fetched at now:
// it starts at or after Partition.Start, and Partition.DueAt(w) is not
// after now. Otherwise it returns an error wrapping ErrNotDue or
// ErrBeforeStart that names the input and says from when it can be
// fetched, or which window is the source's first: permanent, except for a
// window due within ClockSkew, whose error asks to retry once it is due
// (fault.RetryAfter).
//
// It is the one rule for every input, however it comes: dedupe refuses
// (parks) an input that breaks it, the scheduler emits none, and sluicectl
// refuses before sending.
func (s *Source) CheckDue(w Window, now time.Time) error {
	p := s.Partition
	if w.Start.Before(p.Start) {
		return fault.Permanent(fmt.Errorf("%w: %s/%s is before the source's first window %s (partition.start)",
			ErrBeforeStart, s.Name, p.Key(w), p.Key(Window{Start: p.Start})))
	}
	if due := p.DueAt(w); due.After(now) {
		err := fmt.Errorf("%w: %s/%s ends %s and can be fetched from %s (partition.lag %s); it is now %s",
			ErrNotDue, s.Name, p.Key(w), w.End.UTC().Format(time.RFC3339), due.UTC().Format(time.RFC3339), p.Lag, now.UTC().Format(time.RFC3339))
		if wait := due.Sub(now); wait <= ClockSkew {
			return fault.RetryAfter(err, wait+time.Second)
		}
		return fault.Permanent(err)
	}
	return nil
}

// Admit is Lookup for an input about to be claimed at now: it also
// refuses, with Source.CheckDue's permanent error, a window that may not
// be fetched at now.
func (c *Config) Admit(source, window string, now time.Time) (*Source, Window, error) {
	src, w, err := c.Lookup(source, window)
	if err != nil {
		return nil, Window{}, err
	}
	if err := src.CheckDue(w, now); err != nil {
		return nil, Window{}, err
	}
	return src, w, nil
}
