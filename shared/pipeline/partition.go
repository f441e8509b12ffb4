package pipeline

import (
	"fmt"
	"time"
)

// Period is the length of a partition window.
type Period string

// The partition periods. Windows are aligned in UTC.
const (
	Day  Period = "day"
	Hour Period = "hour"
)

// Partition cuts a source's data into windows; each window is fetched, and
// written, as one unit.
type Partition struct {
	Every Period `yaml:"every"`
	// Lag is how long after a window ends it is due: a scheduled trigger
	// asks for windows that ended at least Lag ago, so that late data has
	// reached the API, and no window is fetched earlier (default 0; see
	// Source.CheckDue).
	Lag time.Duration `yaml:"lag"`
	// Lookback is how many of the latest due windows a scheduled trigger
	// asks for (default 1). More than one re-asks recent windows: those
	// that SUCCEEDED are dropped by dedupe at the cost of one conditional
	// write each, and those a missed or failed run left behind are caught
	// up without anyone noticing.
	Lookback int `yaml:"lookback"`
	// Start is the start of the source's first window, written as its key
	// (2026-01-01, or 2026-01-01T13 for hours); earlier windows are never
	// fetched. The zero value sets no first window.
	Start time.Time `yaml:"start"`
	// Slices cuts each window into this many equal, consecutive time
	// slices, walked concurrently, each with its own pagination and
	// checkpoint, and written as the window's one partition (see Slices).
	// 0 or 1: the window is walked whole (Parse makes 1 0, so that both
	// have one fingerprint). The request's {start} and {end}
	// are each slice's bounds, so it must use both. Left out of the JSON
	// when 0, so the fingerprint of a source without slices is the one it
	// had before slices existed.
	Slices int `yaml:"slices" json:",omitempty"`
}

// MaxLookback bounds Partition.Lookback.
const MaxLookback = 1000

// MaxSlices bounds Partition.Slices.
const MaxSlices = 32

// Sliced reports whether the partition cuts its windows into slices.
func (p Partition) Sliced() bool { return p.Slices > 1 }

// SlicesOf returns the time slices of w, in order: Slices equal consecutive
// sub-windows that cover it exactly; w itself when the partition is not
// sliced. Parse ensures that the window's length divides evenly into whole
// seconds.
func (p Partition) SlicesOf(w Window) []Window {
	n := max(p.Slices, 1)
	span := w.End.Sub(w.Start) / time.Duration(n)
	out := make([]Window, n)
	for i := range n {
		out[i] = Window{Start: w.Start.Add(time.Duration(i) * span), End: w.Start.Add(time.Duration(i+1) * span)}
	}
	out[n-1].End = w.End
	return out
}

// length returns the length of the partition's windows.
func (p Partition) length() time.Duration {
	if p.Every == Hour {
		return time.Hour
	}
	return 24 * time.Hour
}

// Due returns, oldest first, the windows a trigger at time at asks for:
// the Lookback latest windows that ended at or before at − Lag, none of
// them before Start (so fewer, or none, while the source is young).
func (p Partition) Due(at time.Time) []Window {
	if !p.valid() {
		return nil
	}
	n := max(p.Lookback, 1)
	end := p.floor(at.Add(-p.Lag)) // the latest due window ends here
	ws := make([]Window, n)
	for i := n - 1; i >= 0; i-- {
		start := p.prev(end)
		ws[i] = Window{Start: start, End: end}
		end = start
	}
	for len(ws) > 0 && ws[0].Start.Before(p.Start) {
		ws = ws[1:]
	}
	return ws
}

// DueAt returns when window w becomes due: Lag after it ends. It is not
// fetched before then.
func (p Partition) DueAt(w Window) time.Time { return w.End.Add(p.Lag) }

// prev returns the start of the window before the one starting at start.
func (p Partition) prev(start time.Time) time.Time {
	if p.Every == Hour {
		return start.Add(-time.Hour)
	}
	return start.AddDate(0, 0, -1)
}

// Window is a half-open UTC time range [Start, End).
type Window struct {
	Start, End time.Time
}

// String returns the window as an ISO 8601 interval, for logs.
func (w Window) String() string {
	return w.Start.Format(time.RFC3339) + "/" + w.End.Format(time.RFC3339)
}

const (
	dayKeyLayout  = "2006-01-02"
	hourKeyLayout = "2006-01-02T15"
)

func (p Partition) valid() bool { return p.Every == Day || p.Every == Hour }

// floor returns the start of the window t falls in.
func (p Partition) floor(t time.Time) time.Time {
	t = t.UTC()
	if p.Every == Hour {
		return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), 0, 0, 0, time.UTC)
	}
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// next returns the start of the window after the one starting at start.
func (p Partition) next(start time.Time) time.Time {
	if p.Every == Hour {
		return start.Add(time.Hour)
	}
	return start.AddDate(0, 0, 1)
}

// Window returns the window that starts at start. It fails if start is not
// the start of a window: midnight UTC for day, the top of an hour for hour.
func (p Partition) Window(start time.Time) (Window, error) {
	if !p.valid() {
		return Window{}, fmt.Errorf("partition: unknown period %q", p.Every)
	}
	start = start.UTC()
	if f := p.floor(start); !f.Equal(start) {
		return Window{}, fmt.Errorf("partition: %s is not the start of a %s window (that would be %s)",
			start.Format(time.RFC3339Nano), p.Every, f.Format(time.RFC3339))
	}
	return Window{Start: start, End: p.next(start)}, nil
}

// Windows returns, in order, every window that overlaps [from, to): the
// windows whose start lies in [from aligned down, to). It returns nil when
// to is not after from, or when the partition is not valid.
func (p Partition) Windows(from, to time.Time) []Window {
	if !p.valid() || !to.After(from) {
		return nil
	}
	var ws []Window
	for s := p.floor(from); s.Before(to); s = p.next(s) {
		ws = append(ws, Window{Start: s, End: p.next(s)})
	}
	return ws
}

// Key names the window w in run records and messages: 2026-11-01 for a day,
// 2026-11-01T13 for an hour. The partition must be valid, as Parse ensures.
func (p Partition) Key(w Window) string {
	if p.Every == Hour {
		return w.Start.UTC().Format(hourKeyLayout)
	}
	return w.Start.UTC().Format(dayKeyLayout)
}

// ParseKey is the inverse of Key.
func (p Partition) ParseKey(key string) (Window, error) {
	var layout string
	switch p.Every {
	case Day:
		layout = dayKeyLayout
	case Hour:
		layout = hourKeyLayout
	default:
		return Window{}, fmt.Errorf("partition: unknown period %q", p.Every)
	}
	t, err := time.ParseInLocation(layout, key, time.UTC)
	if err != nil || t.Format(layout) != key {
		return Window{}, fmt.Errorf("partition: invalid %s key %q (want %s)", p.Every, key, layout)
	}
	return p.Window(t)
}

// HivePath returns the Hive-style path segment of w, as used in S3 keys:
// dt=2026-11-01 for a day, dt=2026-11-01/hr=13 for an hour. The partition
// must be valid, as Parse ensures.
func (p Partition) HivePath(w Window) string {
	s := w.Start.UTC()
	if p.Every == Hour {
		return "dt=" + s.Format(dayKeyLayout) + "/hr=" + s.Format("15")
	}
	return "dt=" + s.Format(dayKeyLayout)
}
