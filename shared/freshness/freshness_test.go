package freshness_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/sluice-data/sluice/shared/freshness"
	"github.com/sluice-data/sluice/shared/pipeline"
)

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func dayWindow(s string) pipeline.Window {
	return pipeline.Window{Start: day(s), End: day(s).AddDate(0, 0, 1)}
}

func TestCheck(t *testing.T) {
	daily := pipeline.Partition{Every: pipeline.Day}
	lagged := pipeline.Partition{Every: pipeline.Day, Lag: 6 * time.Hour}
	hourly := pipeline.Partition{Every: pipeline.Hour, Start: time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)}
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	hourlyNoStart := pipeline.Partition{Every: pipeline.Hour}
	moved := pipeline.Partition{Every: pipeline.Day, Start: day("2026-11-20")}
	future := pipeline.Partition{Every: pipeline.Day, Start: day("2026-12-01")}
	tests := []struct {
		name        string
		p           pipeline.Partition
		latest      pipeline.Window
		every       time.Duration // 0: the default day
		grace       time.Duration
		at          time.Time // zero: now
		wantAge     time.Duration
		wantAllowed time.Duration
		wantStale   bool
		wantDue     []string // window keys
	}{
		{"latest due window published", daily, dayWindow("2026-11-23"), 0, 0, time.Time{}, 10 * time.Hour, 49 * time.Hour, false, nil},
		{"one run missing, within the daily schedule", daily, dayWindow("2026-11-22"), 0, 0, time.Time{}, 34 * time.Hour, 49 * time.Hour, false, []string{"2026-11-23"}},
		{"one run missing, past an hourly schedule", daily, dayWindow("2026-11-22"), time.Hour, time.Hour, time.Time{}, 34 * time.Hour, 26 * time.Hour, true, []string{"2026-11-23"}},
		{"two runs missing", daily, dayWindow("2026-11-21"), 0, 0, time.Time{}, 58 * time.Hour, 49 * time.Hour, true, []string{"2026-11-22", "2026-11-23"}},
		// With lag 6h, at 10:00 on the 24th the 23rd is due (since 06:00).
		{"lag: yesterday due and missing", lagged, dayWindow("2026-11-22"), 0, 0, time.Time{}, 34 * time.Hour, 55 * time.Hour, false, []string{"2026-11-23"}},
		// At 05:00 on the 25th the 24th is not due yet (till 06:00).
		{"lag: yesterday not due before the lag", lagged, dayWindow("2026-11-22"), 0, 0, time.Date(2026, 11, 25, 5, 0, 0, 0, time.UTC), 53 * time.Hour, 55 * time.Hour, false, []string{"2026-11-23"}},
		// Finding 2: an hourly source triggered once a day is 22 hours
		// behind just before its trigger, and not stale.
		{"hourly source, daily trigger, before the trigger", hourlyNoStart, pipeline.Window{Start: day("2026-11-23").Add(23 * time.Hour), End: day("2026-11-24")},
			0, 0, time.Date(2026, 11, 24, 22, 0, 0, 0, time.UTC), 22 * time.Hour, 26 * time.Hour, false, hourKeys("2026-11-24", 22)},
		{"never published, from partition.start", hourly, pipeline.Window{}, time.Hour, 0, time.Time{}, 10 * time.Hour, 3 * time.Hour, true,
			[]string{"2026-11-24T00", "2026-11-24T01", "2026-11-24T02", "2026-11-24T03", "2026-11-24T04", "2026-11-24T05", "2026-11-24T06", "2026-11-24T07", "2026-11-24T08", "2026-11-24T09"}},
		// S1/3: no fixed point to measure from: never published, age 0
		// (not the oldest window asked for, which moves with the clock).
		{"never published, no start: no age", daily, pipeline.Window{}, 0, 0, time.Time{}, 0, 49 * time.Hour, false, []string{"2026-11-23"}},
		// S8: a start moved after the latest: due from the start.
		{"start moved after the latest", moved, dayWindow("2026-11-10"), 0, 0, time.Time{}, 13*24*time.Hour + 10*time.Hour, 49 * time.Hour, true, []string{"2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"}},
		{"start in the future: age 0", future, pipeline.Window{}, 0, 0, time.Time{}, 0, 49 * time.Hour, false, nil},
		{"invalid partition reports nothing", pipeline.Partition{}, pipeline.Window{}, 0, 0, time.Time{}, 0, 0, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := tt.at
			if at.IsZero() {
				at = now
			}
			r := freshness.Check(tt.p, tt.latest, at, tt.every, tt.grace)
			if r.NeverPublished != (tt.latest.End.IsZero() && tt.p.Start.IsZero() && tt.wantAllowed > 0) {
				t.Errorf("never published %v", r.NeverPublished)
			}
			if r.Age != tt.wantAge || r.Allowed != tt.wantAllowed || r.Stale != tt.wantStale {
				t.Errorf("age %v allowed %v stale %v, want %v %v %v", r.Age, r.Allowed, r.Stale, tt.wantAge, tt.wantAllowed, tt.wantStale)
			}
			var due []string
			for _, w := range r.Due {
				due = append(due, tt.p.Key(w))
			}
			if len(due) != len(tt.wantDue) {
				t.Fatalf("due %v, want %v", due, tt.wantDue)
			}
			for i := range due {
				if due[i] != tt.wantDue[i] {
					t.Fatalf("due %v, want %v", due, tt.wantDue)
				}
			}
		})
	}
}

// A source failing for years reports its latest MaxDue due windows.
func TestCheckBoundsDue(t *testing.T) {
	p := pipeline.Partition{Every: pipeline.Day, Start: day("2020-01-01")}
	now := day("2026-11-24").Add(time.Hour)
	r := freshness.Check(p, pipeline.Window{}, now, 0, 0)
	if len(r.Due) != freshness.MaxDue {
		t.Fatalf("%d due windows, want %d", len(r.Due), freshness.MaxDue)
	}
	if last := p.Key(r.Due[len(r.Due)-1]); last != "2026-11-23" {
		t.Fatalf("latest due window %s, want 2026-11-23", last)
	}
	if !r.Stale {
		t.Fatal("not stale")
	}
}

// hourKeys is the keys of the first n hour windows of day d.
func hourKeys(d string, n int) []string {
	var keys []string
	for h := range n {
		keys = append(keys, fmt.Sprintf("%sT%02d", d, h))
	}
	return keys
}
