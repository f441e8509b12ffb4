// Package freshness says how fresh a source's published data is: the age
// of its latest SUCCEEDED window against what its partition (window size
// and partition.lag) and the schedule's slack allow, and which windows are
// due but not published. It is a pure function of the config, the latest
// SUCCEEDED window and the caller's clock, shared by `sluicectl status`
// and the freshness metric, so that both call a source stale alike.
package freshness

import (
	"time"

	"github.com/sluice-data/sluice/shared/pipeline"
)

// MaxDue bounds Report.Due: a source that has been failing for years
// reports its latest MaxDue due windows, not every one.
const MaxDue = pipeline.MaxLookback

// Report is how fresh one source is at a moment.
type Report struct {
	// Latest is the source's latest SUCCEEDED window; the zero Window when
	// it has none.
	Latest pipeline.Window
	// Age is how old the newest published data is: now − Latest.End. With
	// no SUCCEEDED window it is measured from the start of the source's
	// first window (partition.start, or without one the oldest window a
	// scheduled trigger asks for), as if everything before it were there.
	Age time.Duration
	// Allowed is the greatest Age that is not stale: partition.lag, plus
	// one window (the latest due window ends between lag and lag + one
	// window ago), plus the grace given to Check.
	Allowed time.Duration
	// Stale reports Age > Allowed.
	Stale bool
	// Due lists, oldest first, the windows due at now (ended, plus
	// partition.lag, and not before partition.start) after Latest: those
	// the source has not published yet, at most the latest MaxDue of them.
	Due []pipeline.Window
}

// Check reports the freshness at now of a source partitioned by p whose
// latest SUCCEEDED window is latest (the zero Window when it has none).
// grace is the slack allowed on top of the latest due window's own age:
// how late the schedule may run and its run take; zero or less means
// DefaultGrace(p).
func Check(p pipeline.Partition, latest pipeline.Window, now time.Time, grace time.Duration) Report {
	if grace <= 0 {
		grace = DefaultGrace(p)
	}
	r := Report{Latest: latest, Allowed: p.Lag + period(p) + grace}
	due := p.Due(now)
	if len(due) == 0 && p.Start.IsZero() {
		return r // no valid partition, or nothing due yet
	}
	from := latest.End
	if latest.End.IsZero() {
		from = p.Start
		if from.IsZero() {
			from = due[0].Start
		}
	}
	r.Age = now.Sub(from)
	r.Stale = r.Age > r.Allowed
	if len(due) == 0 {
		return r
	}
	end := due[len(due)-1].End // the latest due window ends here
	if n := int(end.Sub(from) / period(p)); n > MaxDue {
		from = end.Add(-time.Duration(MaxDue) * period(p)) // day and hour windows are of fixed length in UTC
	}
	r.Due = p.Windows(from, end)
	return r
}

// DefaultGrace is the grace Check allows when given none: one window, so
// that a source is stale once a whole scheduled run of it is missing.
func DefaultGrace(p pipeline.Partition) time.Duration { return period(p) }

// period is the length of p's windows (zero for an invalid partition).
func period(p pipeline.Partition) time.Duration {
	if p.Every == pipeline.Hour {
		return time.Hour
	}
	if p.Every == pipeline.Day {
		return 24 * time.Hour
	}
	return 0
}
