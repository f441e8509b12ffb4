package grid

import (
	"fmt"
	"time"

	"github.com/sluice-data/sluice/shared/freshness"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/runs"
)

// State is what a cell shows: a window's run, reduced to what an operator
// acts on.
type State string

// The cell states.
const (
	Succeeded   State = "succeeded"    // the run SUCCEEDED: the window is published
	Running     State = "running"      // a run is CLAIMED, RUNNING or COMMITTING
	Failed      State = "failed"       // the run FAILED (the next trigger runs it again)
	Missing     State = "missing"      // the window is due, and has no run
	NotDue      State = "not_due"      // the window has not ended, plus partition.lag
	BeforeStart State = "before_start" // the window starts before partition.start: never fetched
)

// States lists the states in the order the legend shows them.
var States = []State{Succeeded, Running, Failed, Missing, NotDue, BeforeStart}

// SchemaVersion is the version of the JSON form; a change that is not an
// added field would bump it. 2: a cell's run is an object under "run"
// (null without one) that carries every field, zero or not; in 1 the
// run's fields were the cell's, and left out when zero.
const SchemaVersion = 2

// Grid is the status of every source shown, at a moment.
type Grid struct {
	Version int       `json:"version"` // SchemaVersion
	Now     time.Time `json:"now"`
	Last    int       `json:"last"` // the windows shown per source
	Sources []Source  `json:"sources"`
}

// Source is one row: a source, its latest windows and its freshness.
type Source struct {
	Name      string    `json:"name"`
	Every     string    `json:"every"` // "day" or "hour"
	Lag       string    `json:"lag"`   // partition.lag, as a Go duration
	Freshness Freshness `json:"freshness"`
	Cells     []Cell    `json:"cells"` // oldest first
}

// Freshness is freshness.Report as shown.
type Freshness struct {
	// LatestSucceeded is the key of the source's latest SUCCEEDED window
	// ("" when none).
	LatestSucceeded string `json:"latest_succeeded"`
	AgeSeconds      int64  `json:"age_seconds"`
	AllowedSeconds  int64  `json:"allowed_seconds"`
	Stale           bool   `json:"stale"`
	// Due counts the windows due and not SUCCEEDED since LatestSucceeded
	// (at most freshness.MaxDue).
	Due int `json:"due"`
}

// Cell is one window of a source and its current run, if any. In JSON
// the run is an object under "run", null when the window has none
// (Status ""); in Go its fields are the cell's.
type Cell struct {
	Window string
	State  State
	Run
}

// Run is a cell's run, as shown. Every field is in the JSON form, zero or
// not.
type Run struct {
	Status     string `json:"status"` // the run's status: CLAIMED, RUNNING, COMMITTING, SUCCEEDED, FAILED
	Attempt    int    `json:"attempt"`
	Trigger    string `json:"trigger"`
	Records    int64  `json:"records"`
	Bytes      int64  `json:"bytes"`
	Objects    int    `json:"objects"`
	ClaimedAt  string `json:"claimed_at"`
	FinishedAt string `json:"finished_at"` // "" while it runs
	// DurationMS is claimed to finished, or to now for a live run.
	DurationMS int64 `json:"duration_ms"`
	// Progress says where a live run is: claimed, fetching (with the
	// batches written so far), writing n/m batches, committing; and
	// "lease expired" when its worker stopped renewing it.
	Progress   string `json:"progress"`
	ErrorClass string `json:"error_class"`
	Error      string `json:"error"`
}

// Input is what Build needs of one source.
type Input struct {
	Source *pipeline.Source
	// Runs holds the current runs of the source's windows, by window key:
	// at least those of the windows shown.
	Runs map[string]runs.Run
	// Latest is the source's latest SUCCEEDED run, if it has one (it may
	// be older than every window shown).
	Latest *runs.Run
}

// Windows returns the last n windows of p up to and including the one now
// falls in, oldest first: the columns of a source's row.
func Windows(p pipeline.Partition, now time.Time, n int) []pipeline.Window {
	ws := p.Windows(now, now.Add(time.Nanosecond))
	if len(ws) == 0 || n < 1 {
		return nil
	}
	period := ws[0].End.Sub(ws[0].Start) // day and hour windows are of fixed length in UTC
	return p.Windows(ws[0].Start.Add(-time.Duration(n-1)*period), ws[0].End)
}

// Build returns the grid at now of the last n windows of each source,
// judging freshness with the schedule's period every and grace (see
// freshness.Check).
func Build(now time.Time, n int, every, grace time.Duration, in []Input) Grid {
	g := Grid{Version: SchemaVersion, Now: now.UTC(), Last: n, Sources: make([]Source, 0, len(in))}
	for _, s := range in {
		g.Sources = append(g.Sources, buildSource(now, n, every, grace, s))
	}
	return g
}

func buildSource(now time.Time, n int, every, grace time.Duration, in Input) Source {
	p := in.Source.Partition
	row := Source{Name: in.Source.Name, Every: string(p.Every), Lag: p.Lag.String()}
	var latest pipeline.Window
	if in.Latest != nil {
		if w, err := p.ParseKey(in.Latest.Window); err == nil {
			latest = w
			row.Freshness.LatestSucceeded = in.Latest.Window
		}
	}
	rep := freshness.Check(p, latest, now, every, grace)
	row.Freshness.AgeSeconds = max(int64(rep.Age/time.Second), 0) // a window stamped by a clock ahead of ours is not from the future
	row.Freshness.AllowedSeconds = int64(rep.Allowed / time.Second)
	row.Freshness.Stale = rep.Stale
	row.Freshness.Due = len(rep.Due)
	for _, w := range Windows(p, now, n) {
		key := p.Key(w)
		r, ok := in.Runs[key]
		row.Cells = append(row.Cells, cell(now, p, w, key, r, ok))
	}
	return row
}

func cell(now time.Time, p pipeline.Partition, w pipeline.Window, key string, r runs.Run, ok bool) Cell {
	c := Cell{Window: key}
	if !ok {
		switch {
		case w.Start.Before(p.Start):
			c.State = BeforeStart
		case p.DueAt(w).After(now):
			c.State = NotDue
		default:
			c.State = Missing
		}
		return c
	}
	c.Status, c.Attempt, c.Trigger = string(r.Status), r.Attempt, r.Trigger
	c.Records, c.Bytes, c.Objects = r.Records, r.Bytes, r.Objects
	c.ClaimedAt, c.FinishedAt = r.ClaimedAt, r.FinishedAt
	c.ErrorClass, c.Error = r.ErrorClass, r.LastError
	switch {
	case r.Status == runs.Succeeded:
		c.State = Succeeded
	case r.Status == runs.Failed:
		c.State = Failed
	default:
		c.State = Running
		c.Progress = progress(now, r)
	}
	c.DurationMS = durationMS(now, r)
	return c
}

// progress says where a live run is.
func progress(now time.Time, r runs.Run) string {
	var p string
	switch {
	case r.Status == runs.Claimed:
		p = "claimed"
	case r.Status == runs.Committing:
		p = "committing"
	case r.BatchesExpected != nil:
		p = fmt.Sprintf("writing %d/%d batches", len(r.Written), *r.BatchesExpected)
	case r.Fetched:
		p = fmt.Sprintf("fetched, %d batches written", len(r.Written))
	default:
		p = fmt.Sprintf("fetching, %d batches written", len(r.Written))
		if r.Hops > 0 {
			p += fmt.Sprintf(", hand-over %d", r.Hops)
		}
	}
	if r.LeaseUntil > 0 && now.Unix() > r.LeaseUntil {
		p += "; lease expired " + r.LeaseExpiry().Format(time.RFC3339)
	}
	return p
}

func durationMS(now time.Time, r runs.Run) int64 {
	start, err := time.Parse(time.RFC3339Nano, r.ClaimedAt)
	if err != nil {
		return 0
	}
	end := now
	if r.FinishedAt != "" {
		if end, err = time.Parse(time.RFC3339Nano, r.FinishedAt); err != nil {
			return 0
		}
	} else if !r.Status.Live() {
		return 0
	}
	// Clamped: a run claimed after now was taken, or by a host whose clock
	// runs ahead, has not run for less than nothing.
	return max(end.Sub(start).Milliseconds(), 0)
}

// Failures returns the source's failed cells, oldest first.
func (s Source) Failures() []Cell {
	var out []Cell
	for _, c := range s.Cells {
		if c.State == Failed {
			out = append(out, c)
		}
	}
	return out
}

// InProgress returns the source's running cells, oldest first.
func (s Source) InProgress() []Cell {
	var out []Cell
	for _, c := range s.Cells {
		if c.State == Running {
			out = append(out, c)
		}
	}
	return out
}
