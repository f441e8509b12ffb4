package pipeline

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/sluice/shared/fault"
)

func TestExpand(t *testing.T) {
	day := utc("2000-01-01T00:00:00Z")
	later := utc("2030-01-01T00:00:00Z") // every range below has ended
	tests := []struct {
		name     string
		names    []string
		from, to time.Time
		at       time.Time
		want     []string // source/window
		wantErr  string   // a permanent error saying this
		// wantRetry: the error is retryable instead (a window due within
		// ClockSkew).
		wantRetry bool
	}{
		{name: "range, named sources in the order named", names: []string{"orders", "events"},
			from: utc("2026-11-01T22:00:00Z"), to: utc("2026-11-02T01:00:00Z"), at: later,
			want: []string{"orders/2026-11-01", "orders/2026-11-02", "events/2026-11-01T22", "events/2026-11-01T23", "events/2026-11-02T00"}},
		{name: "no range: the windows due, every source", at: utc("2026-11-24T00:15:00Z"),
			want: []string{"orders/2026-11-23", "events/2026-11-23T22", "events/2026-11-23T23"}},
		{name: "unknown sources, every one named", names: []string{"ghost", "orders", "phantom"}, at: day,
			wantErr: `unknown source "ghost" (not in the pipeline config)` + "\n" + `unknown source "phantom"`},
		{name: "at the limit", names: []string{"orders"}, from: day, to: day.AddDate(0, 0, MaxInputs), at: later},
		{name: "one over the limit", names: []string{"orders"}, from: day, to: day.AddDate(0, 0, MaxInputs+1), at: later,
			wantErr: "trigger expands to more than 10000 inputs, the limit (split the range)"},
		{name: "over the limit across sources", from: day, to: day.Add(9700 * time.Hour), at: later, // 405 days, 9700 hours
			wantErr: "more than 10000 inputs"},
		{name: "a mistyped year of hours", names: []string{"events"}, from: utc("1026-11-01T00:00:00Z"), to: utc("2026-11-01T00:00:00Z"), at: later,
			wantErr: "more than 10000 inputs"},
		{name: "range ending with the windows due", names: []string{"orders", "events"},
			from: utc("2026-11-01T22:00:00Z"), to: utc("2026-11-02T01:00:00Z"), at: utc("2026-11-03T00:00:00Z"),
			want: []string{"orders/2026-11-01", "orders/2026-11-02", "events/2026-11-01T22", "events/2026-11-01T23", "events/2026-11-02T00"}},
		{name: "range reaching today", names: []string{"orders"}, from: utc("2026-10-30T00:00:00Z"), to: utc("2026-11-03T00:00:00Z"), at: utc("2026-11-02T12:00:00Z"),
			wantErr: "window not due yet: orders/2026-11-02 ends 2026-11-03T00:00:00Z and can be fetched from 2026-11-03T00:00:00Z (partition.lag 0s); it is now 2026-11-02T12:00:00Z; end the range at 2026-11-02T00:00:00Z or earlier"},
		{name: "range reaching the current hour", names: []string{"events"}, from: utc("2026-11-02T10:00:00Z"), to: utc("2026-11-02T13:00:00Z"), at: utc("2026-11-02T12:30:00Z"),
			wantErr: "events/2026-11-02T12 ends 2026-11-02T13:00:00Z"},
		// Due within the clock skew: asked again once due, never refused for good.
		{name: "range reaching the current hour a minute before its end", names: []string{"events"}, from: utc("2026-11-02T10:00:00Z"), to: utc("2026-11-02T13:00:00Z"), at: utc("2026-11-02T12:59:00Z"),
			wantErr: "events/2026-11-02T12 ends 2026-11-02T13:00:00Z", wantRetry: true},
		{name: "range of next year", names: []string{"orders"}, from: utc("2027-11-01T00:00:00Z"), to: utc("2027-11-03T00:00:00Z"), at: utc("2026-11-02T12:00:00Z"),
			wantErr: "window not due yet: orders/2027-11-01"},
		{name: "range from before the start", names: []string{"late"}, from: utc("2026-09-29T00:00:00Z"), to: utc("2026-10-03T00:00:00Z"), at: later,
			wantErr: "window before the source's start: late/2026-09-29 is before the source's first window 2026-10-01 (partition.start); start the range at 2026-10-01T00:00:00Z or later"},
		{name: "range from the start", names: []string{"late"}, from: utc("2026-10-01T00:00:00Z"), to: utc("2026-10-03T00:00:00Z"), at: later,
			want: []string{"late/2026-10-01", "late/2026-10-02"}},
		{name: "no range: due windows stop at the start", names: []string{"late"}, at: utc("2026-10-03T00:15:00Z"),
			want: []string{"late/2026-10-01", "late/2026-10-02"}},
		{name: "no range: nothing due before the start", names: []string{"late"}, at: utc("2026-09-15T00:15:00Z")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testConfig()
			if slices.Contains(tt.names, "late") { // a source whose first window is 2026-10-01
				c.Sources = append(c.Sources, Source{Name: "late", Partition: Partition{Every: Day, Lookback: 3, Start: utc("2026-10-01T00:00:00Z")}})
			}
			got, err := c.Expand(tt.names, tt.from, tt.to, tt.at)
			if tt.wantErr != "" {
				if fault.IsPermanent(err) == tt.wantRetry || !strings.Contains(err.Error(), tt.wantErr) || got != nil {
					t.Fatalf("Expand = %d inputs, %v (%s); want an error (retryable: %v) saying %q", len(got), err, fault.ClassOf(err), tt.wantRetry, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == nil && tt.name != "at the limit" {
				if len(got) != 0 {
					t.Fatalf("Expand = %v, want no inputs", got)
				}
				return
			}
			if tt.want == nil { // at the limit
				if len(got) != MaxInputs || got[0].Window != "2000-01-01" || got[MaxInputs-1].Window != "2027-05-18" {
					t.Fatalf("Expand = %d inputs from %v to %v, want %d", len(got), got[0], got[len(got)-1], MaxInputs)
				}
				return
			}
			var keys []string
			for _, in := range got {
				keys = append(keys, in.Source+"/"+in.Window)
			}
			if !slices.Equal(keys, tt.want) {
				t.Fatalf("Expand = %q, want %q", keys, tt.want)
			}
		})
	}
}
