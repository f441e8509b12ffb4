// Package freshness says how fresh a source's published data is: the age
// of its latest SUCCEEDED window against what its partition (window size
// and partition.lag), the scheduled trigger's period and a grace allow,
// and which windows are due but not published. It is a pure function of
// the config, the latest SUCCEEDED window and the caller's clock, called
// by both `sluicectl status` and the scheduler's sweep (the FreshnessLag
// metric), so that both call a source stale alike.
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
	// no SUCCEEDED window it is measured from partition.start, as if
	// everything before it were there; never negative (a start in the
	// future is age 0).
	Age time.Duration
	// NeverPublished is true for a source with no SUCCEEDED window and no
	// partition.start: there is no fixed point to measure its age from (a
	// point that moves with the clock, such as the oldest window a trigger
	// asks for, would make it always or never stale), so its Age is 0 and
	// it is not Stale. Give a source a partition.start to have a source
	// that never publishes reported stale.
	NeverPublished bool
	// Allowed is the greatest Age that is not stale: partition.lag, plus
	// one window (the latest due window ends between lag and lag + one
	// window ago), plus the scheduled trigger's period (the next trigger
	// asks for the windows that became due since the last one), plus the
	// grace given to Check (how late a trigger may run and its run take).
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
// every is the longest gap between the scheduled trigger's fires (zero or
// less: DefaultEvery, the default schedule's day); grace is the slack on
// top: how late a trigger may run and its run take (zero or less:
// DefaultGrace).
func Check(p pipeline.Partition, latest pipeline.Window, now time.Time, every, grace time.Duration) Report {
	if every <= 0 {
		every = DefaultEvery
	}
	if grace <= 0 {
		grace = DefaultGrace
	}
	r := Report{Latest: latest}
	if period(p) == 0 {
		return r // no valid partition
	}
	r.Allowed = p.Lag + period(p) + every + grace
	due := p.Due(now)
	from := latest.End
	if latest.End.IsZero() {
		from = p.Start
		if from.IsZero() {
			r.NeverPublished = true
			from = now // no fixed point: age 0
		}
	}
	r.Age = max(0, now.Sub(from))
	r.Stale = r.Age > r.Allowed
	if r.NeverPublished {
		r.Age = 0
		if len(due) > MaxDue {
			due = due[len(due)-MaxDue:]
		}
		r.Due = due
		return r
	}
	if !p.Start.IsZero() && from.Before(p.Start) {
		from = p.Start // not before partition.start, even if it moved after the latest
	}
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

// DefaultEvery is the schedule period Check assumes when given none: a
// day, the gap of the default schedule_expression cron(15 0 * * ? *).
const DefaultEvery = 24 * time.Hour

// DefaultGrace is the grace Check allows when given none: an hour, for a
// trigger that runs late and the runs it starts.
const DefaultGrace = time.Hour

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
