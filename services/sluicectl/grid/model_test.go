package grid_test

import (
	"testing"
	"time"

	"github.com/sluice-data/sluice/services/sluicectl/grid"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/runs"
)

func TestWindows(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 30, 0, 0, time.UTC)
	tests := []struct {
		name        string
		p           pipeline.Partition
		n           int
		first, last string
	}{
		{"days, up to today", pipeline.Partition{Every: pipeline.Day}, 14, "2026-11-11", "2026-11-24"},
		{"hours, up to this hour", pipeline.Partition{Every: pipeline.Hour}, 3, "2026-11-24T08", "2026-11-24T10"},
		{"one", pipeline.Partition{Every: pipeline.Day}, 1, "2026-11-24", "2026-11-24"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws := grid.Windows(tt.p, now, tt.n)
			if len(ws) != tt.n || tt.p.Key(ws[0]) != tt.first || tt.p.Key(ws[len(ws)-1]) != tt.last {
				t.Fatalf("windows %v, want %d from %s to %s", ws, tt.n, tt.first, tt.last)
			}
		})
	}
	if ws := grid.Windows(pipeline.Partition{}, now, 3); ws != nil {
		t.Fatalf("invalid partition: %v", ws)
	}
}

// Each state of a cell, from the run (or its absence) and the window.
func TestBuildCellStates(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	src := &pipeline.Source{Name: "s", Partition: pipeline.Partition{Every: pipeline.Hour, Lag: 30 * time.Minute, Start: time.Date(2026, 11, 24, 4, 0, 0, 0, time.UTC)}}
	n := func(v int) *int { return &v }
	rs := map[string]runs.Run{
		"2026-11-24T04": {Window: "2026-11-24T04", Status: runs.Succeeded, Attempt: 1, ClaimedAt: "2026-11-24T06:00:00Z", FinishedAt: "2026-11-24T06:00:01.5Z"},
		"2026-11-24T05": {Window: "2026-11-24T05", Status: runs.Failed, Attempt: 2, ErrorClass: "auth", LastError: "401"},
		"2026-11-24T06": {Window: "2026-11-24T06", Status: runs.Running, Attempt: 1, ClaimedAt: "2026-11-24T09:59:00Z", BatchesExpected: n(4), Written: []int{1}},
		"2026-11-24T07": {Window: "2026-11-24T07", Status: runs.Committing, Attempt: 1},
	}
	latest := rs["2026-11-24T04"]
	g := grid.Build(now, 8, time.Hour, 0, []grid.Input{{Source: src, Runs: rs, Latest: &latest}})
	want := []struct {
		state    grid.State
		progress string
	}{
		{grid.BeforeStart, ""}, // 03
		{grid.Succeeded, ""}, {grid.Failed, ""}, {grid.Running, "writing 1/4 batches"}, {grid.Running, "committing"},
		{grid.Missing, ""}, // 08: ended 09:00, due 09:30
		{grid.NotDue, ""},  // 09: due 10:30
		{grid.NotDue, ""},  // 10
	}
	cells := g.Sources[0].Cells
	if len(cells) != len(want) {
		t.Fatalf("%d cells, want %d", len(cells), len(want))
	}
	for i, c := range cells {
		if c.State != want[i].state || c.Progress != want[i].progress {
			t.Errorf("%s: %s %q, want %s %q", c.Window, c.State, c.Progress, want[i].state, want[i].progress)
		}
	}
	if c := cells[1]; c.DurationMS != 1500 {
		t.Errorf("succeeded cell duration %dms, want 1500", c.DurationMS)
	}
	if c := cells[3]; c.DurationMS != 60000 {
		t.Errorf("running cell duration %dms, want 60000 (to now)", c.DurationMS)
	}
	if f := g.Sources[0].Failures(); len(f) != 1 || f[0].Window != "2026-11-24T05" || f[0].ErrorClass != "auth" {
		t.Errorf("failures %+v", f)
	}
	// Latest 04 ended 05:00: 5h old, allowed 30m lag + 1h window + 1h
	// schedule + 1h grace; 05…08 due.
	if fr := g.Sources[0].Freshness; !fr.Stale || fr.AgeSeconds != 5*3600 || fr.AllowedSeconds != 12600 || fr.Due != 4 {
		t.Errorf("freshness %+v", fr)
	}
}

func TestAge(t *testing.T) {
	for s, want := range map[int64]string{0: "0m", 59: "0m", 42 * 60: "42m", 5*3600 + 3*60: "5h3m", 48 * 3600: "2d", 34 * 3600: "1d10h"} {
		if got := grid.Age(s); got != want {
			t.Errorf("Age(%d) = %q, want %q", s, got, want)
		}
	}
}

// A run claimed or finished after now — read after now was taken, or
// stamped by a host whose clock runs ahead — shows no negative duration
// or age: they are clamped to 0.
func TestBuildNoNegativeDurations(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	src := &pipeline.Source{Name: "s", Partition: pipeline.Partition{Every: pipeline.Hour}}
	ahead := now.Add(2 * time.Second).Format(time.RFC3339Nano)
	later := now.Add(5 * time.Second).Format(time.RFC3339Nano)
	tests := []struct {
		name string
		run  runs.Run
	}{
		{"live, claimed after now", runs.Run{Window: "2026-11-24T09", Status: runs.Running, Attempt: 1, ClaimedAt: ahead}},
		{"finished before it was claimed", runs.Run{Window: "2026-11-24T09", Status: runs.Failed, Attempt: 1, ClaimedAt: later, FinishedAt: ahead}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			latest := runs.Run{Window: "2026-11-24T11", Status: runs.Succeeded} // a window ending after now
			g := grid.Build(now, 2, 0, 0, []grid.Input{{Source: src, Runs: map[string]runs.Run{tt.run.Window: tt.run}, Latest: &latest}})
			for _, c := range g.Sources[0].Cells {
				if c.DurationMS < 0 {
					t.Errorf("cell %s: duration_ms %d, want >= 0", c.Window, c.DurationMS)
				}
			}
			if a := g.Sources[0].Freshness.AgeSeconds; a < 0 {
				t.Errorf("age_seconds %d, want >= 0", a)
			}
		})
	}
}
