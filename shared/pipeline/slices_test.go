package pipeline

import (
	"fmt"
	"strings"
	"testing"
)

func TestPartitionSlicesAreChecked(t *testing.T) {
	const base = "version: 1\nsources:\n  - name: a\n    request: {base_url: \"http://x.test\", path: /v1, query: %s}\n    pagination: {type: none}\n    partition: {every: %s, slices: %d}\n"
	const timed = `{since: "{start:unix}", until: "{end}"}`
	tests := []struct {
		name    string
		query   string
		every   string
		slices  int
		wantErr string
	}{
		{"day in 24", timed, "day", 24, ""},
		{"hour in 12", timed, "hour", 12, ""},
		{"one slice is the whole window", `{day: "{date}"}`, "day", 1, ""},
		{"32 slices of a day: 2700 s each", timed, "day", 32, ""},
		{"zero is the whole window too", `{day: "{date}"}`, "day", 0, ""},
		{"negative", timed, "day", -1, "sources[0].partition.slices: -1: want 2 to 32, or 0 or 1 for none (the window whole)"},
		{"too many", timed, "day", 33, "sources[0].partition.slices: 33: want 2 to 32, or 0 or 1 for none (the window whole)"},
		{"not a divisor of a day", timed, "day", 7, "sources[0].partition.slices: 7 does not cut a day (86400 s) into slices of whole seconds"},
		{"not a divisor of an hour", timed, "hour", 7, "sources[0].partition.slices: 7 does not cut a hour (3600 s)"},
		{"no time filter", `{day: "{date}"}`, "day", 4, "4 slices need a request that filters by time with both {start} and {end}"},
		{"start without end", `{since: "{start:unix}"}`, "day", 4, "4 slices need a request that filters by time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("p.yaml", []byte(fmt.Sprintf(base, tt.query, tt.every, tt.slices)))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tt.slices
			if want == 1 {
				want = 0 // as parsed: the window whole, as when left out (one fingerprint)
			}
			if got := c.Sources[0].Partition.Slices; got != want {
				t.Fatalf("slices = %d, want %d", got, want)
			}
		})
	}
}

func TestSlicesOfCoverTheWindow(t *testing.T) {
	day := Window{Start: utc("2026-11-01T00:00:00Z"), End: utc("2026-11-02T00:00:00Z")}
	tests := []struct {
		name  string
		p     Partition
		w     Window
		want0 Window // the first slice
		n     int
	}{
		{"not sliced", Partition{Every: Day}, day, day, 1},
		{"day in 4", Partition{Every: Day, Slices: 4}, day, Window{Start: day.Start, End: utc("2026-11-01T06:00:00Z")}, 4},
		{"day in 32", Partition{Every: Day, Slices: 32}, day, Window{Start: day.Start, End: utc("2026-11-01T00:45:00Z")}, 32},
		{"hour in 3", Partition{Every: Hour, Slices: 3}, Window{Start: utc("2026-11-01T13:00:00Z"), End: utc("2026-11-01T14:00:00Z")},
			Window{Start: utc("2026-11-01T13:00:00Z"), End: utc("2026-11-01T13:20:00Z")}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.p.SlicesOf(tt.w)
			if len(got) != tt.n || got[0] != tt.want0 {
				t.Fatalf("%d slices, first %v; want %d, first %v", len(got), got[0], tt.n, tt.want0)
			}
			at := tt.w.Start
			for i, s := range got {
				if !s.Start.Equal(at) || !s.End.After(s.Start) {
					t.Fatalf("slice %d is %v; want it to start at %v", i, s, at)
				}
				if s.End.Sub(s.Start) != got[0].End.Sub(got[0].Start) {
					t.Fatalf("slice %d is %v long, slice 0 %v", i, s.End.Sub(s.Start), got[0].End.Sub(got[0].Start))
				}
				at = s.End
			}
			if !at.Equal(tt.w.End) {
				t.Fatalf("the slices end at %v, the window at %v", at, tt.w.End)
			}
		})
	}
}

// A slice's {start} and {end} are its own bounds, in their formats; {date}
// stays the window's day.
func TestSlicePlaceholders(t *testing.T) {
	w := Window{Start: utc("2026-11-01T00:00:00Z"), End: utc("2026-11-02T00:00:00Z")}
	s := Window{Start: utc("2026-11-01T18:00:00Z"), End: utc("2026-11-02T00:00:00Z")}
	tests := []struct{ tmpl, want string }{
		{"{start}", "2026-11-01T18:00:00Z"},
		{"{end:unix}", fmt.Sprint(s.End.Unix())},
		{"{start:unix_ms}", fmt.Sprint(s.Start.UnixMilli())},
		{"{date}", "2026-11-01"},
		{"{date:20060102T15}", "20261101T00"},
	}
	for _, tt := range tests {
		if got := (Vars{Window: w, Slice: s}).Expand(tt.tmpl); got != tt.want {
			t.Errorf("%s = %q, want %q", tt.tmpl, got, tt.want)
		}
	}
	if got := (Vars{Window: w}).Expand("{start}/{end}"); got != "2026-11-01T00:00:00Z/2026-11-02T00:00:00Z" {
		t.Errorf("without a slice: %q, want the window's bounds", got)
	}
}

// Slices change the fingerprint (they change the checkpoint's shape), and
// 0 is left out of it, so a source without slices keeps the fingerprint
// it had before the field existed.
func TestSlicesFingerprint(t *testing.T) {
	src := Source{Name: "a", Partition: Partition{Every: Day}}
	before := src.Fingerprint()
	src.Partition.Slices = 4
	if src.Fingerprint() == before {
		t.Fatal("slices kept the fingerprint")
	}
	src.Partition.Slices = 0
	if src.Fingerprint() != before {
		t.Fatal("slices 0 changed the fingerprint")
	}
	// slices: 1 written out parses as left out: one fingerprint.
	const y = "version: 1\nsources:\n  - name: a\n    request: {base_url: \"http://x.test\", path: /v1}\n    pagination: {type: none}\n    partition: {every: day%s}\n"
	var fps []string
	for _, extra := range []string{"", ", slices: 1"} {
		c, err := Parse("p.yaml", []byte(fmt.Sprintf(y, extra)))
		if err != nil {
			t.Fatal(err)
		}
		fps = append(fps, c.Sources[0].Fingerprint())
	}
	if fps[0] != fps[1] {
		t.Fatal("slices: 1 written out changed the fingerprint")
	}
}
