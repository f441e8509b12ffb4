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
	tests := []struct {
		name     string
		names    []string
		from, to time.Time
		at       time.Time
		want     []string // source/window
		wantErr  string   // a permanent error saying this
	}{
		{name: "range, named sources in the order named", names: []string{"orders", "events"},
			from: utc("2026-11-01T22:00:00Z"), to: utc("2026-11-02T01:00:00Z"),
			want: []string{"orders/2026-11-01", "orders/2026-11-02", "events/2026-11-01T22", "events/2026-11-01T23", "events/2026-11-02T00"}},
		{name: "no range: the windows due, every source", at: utc("2026-11-24T00:15:00Z"),
			want: []string{"orders/2026-11-23", "events/2026-11-23T22", "events/2026-11-23T23"}},
		{name: "unknown sources, every one named", names: []string{"ghost", "orders", "phantom"}, at: day,
			wantErr: `unknown source "ghost" (not in the pipeline config)` + "\n" + `unknown source "phantom"`},
		{name: "at the limit", names: []string{"orders"}, from: day, to: day.AddDate(0, 0, MaxInputs)},
		{name: "one over the limit", names: []string{"orders"}, from: day, to: day.AddDate(0, 0, MaxInputs+1),
			wantErr: "trigger expands to more than 10000 inputs, the limit (split the range)"},
		{name: "over the limit across sources", from: day, to: day.Add(9700 * time.Hour), // 405 days, 9700 hours
			wantErr: "more than 10000 inputs"},
		{name: "a mistyped year of hours", names: []string{"events"}, from: utc("1026-11-01T00:00:00Z"), to: utc("2026-11-01T00:00:00Z"),
			wantErr: "more than 10000 inputs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := testConfig().Expand(tt.names, tt.from, tt.to, tt.at)
			if tt.wantErr != "" {
				if !fault.IsPermanent(err) || !strings.Contains(err.Error(), tt.wantErr) || got != nil {
					t.Fatalf("Expand = %d inputs, %v; want a permanent error saying %q", len(got), err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
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
