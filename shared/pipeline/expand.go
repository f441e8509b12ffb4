package pipeline

import (
	"errors"
	"fmt"
	"time"

	"github.com/sluice-data/sluice/shared/fault"
)

// MaxInputs bounds the inputs one expansion may ask for, over every source:
// a mistyped range must not flood the inputs queue.
const MaxInputs = 10000

// Input is one window of one source: the unit of work an input message
// names.
type Input struct {
	Source string // the source's name
	Window string // the window's partition key (Partition.Key)
}

// Expand returns the inputs of the sources named (every source when none
// is), source by source in the order named, each source's windows oldest
// first, for a trigger at time at (the caller's clock). With a range (from
// not zero) they are the windows that overlap [from, to); without one, the
// windows due at at (Partition.Due, which stops at the source's start).
//
// An unknown source, or more than MaxInputs inputs, is a permanent error.
// A range is cut short one window past the limit before its windows are
// built, so that a mistyped year is refused at once. So is a range with a
// window that may not be fetched at at (Source.CheckDue): one that has not
// ended, plus partition.lag, or one before partition.start. A range is
// refused whole, not cut to the windows that are due, so that what is
// asked for is either all enqueued or all refused.
func (c *Config) Expand(names []string, from, to, at time.Time) ([]Input, error) {
	sources := c.Sources
	if len(names) > 0 {
		sources = make([]Source, 0, len(names))
		var unknown []error
		for _, name := range names {
			src, ok := c.Source(name)
			if !ok {
				unknown = append(unknown, unknownSource(name))
				continue
			}
			sources = append(sources, *src)
		}
		if err := errors.Join(unknown...); err != nil {
			return nil, fault.Permanent(err)
		}
	}
	var inputs []Input
	for _, src := range sources {
		var ws []Window
		if from.IsZero() {
			ws = src.Partition.Due(at)
		} else {
			ws = src.Partition.Windows(from, capRange(src.Partition, from, to))
		}
		for _, w := range ws {
			inputs = append(inputs, Input{Source: src.Name, Window: src.Partition.Key(w)})
		}
		if len(inputs) > MaxInputs {
			return nil, fault.Permanentf("trigger expands to more than %d inputs, the limit (split the range)", MaxInputs)
		}
		if err := checkRange(&src, ws, at); err != nil {
			return nil, err
		}
	}
	return inputs, nil
}

// checkRange refuses windows ws of src, oldest first, if one of them may
// not be fetched at at, saying where the range may start or must end.
func checkRange(src *Source, ws []Window, at time.Time) error {
	if len(ws) == 0 {
		return nil
	}
	if err := src.CheckDue(ws[0], at); errors.Is(err, ErrBeforeStart) {
		return fmt.Errorf("%w; start the range at %s or later", err, src.Partition.Start.UTC().Format(time.RFC3339))
	}
	for _, w := range ws { // the windows not due are the last ones
		if err := src.CheckDue(w, at); err != nil {
			return fmt.Errorf("%w; end the range at %s or earlier", err, w.Start.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// capRange returns to, or the end of the window MaxInputs+1 windows after
// the one from falls in if that is earlier. (Day and hour windows are of
// fixed length in UTC.)
func capRange(p Partition, from, to time.Time) time.Time {
	if first := p.Windows(from, from.Add(time.Nanosecond)); len(first) == 1 {
		period := first[0].End.Sub(first[0].Start)
		if limit := first[0].Start.Add((MaxInputs + 1) * period); to.After(limit) {
			return limit
		}
	}
	return to
}

// unknownSource is the error for a source name the config does not have.
func unknownSource(name string) error {
	return fmt.Errorf("unknown source %q (not in the pipeline config)", name)
}
