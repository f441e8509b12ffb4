package freshness_test

import (
	"fmt"
	"time"

	"github.com/sluice-data/sluice/shared/freshness"
	"github.com/sluice-data/sluice/shared/pipeline"
)

// A daily source with a 6-hour lag whose latest published window is two
// days back: one scheduled run is missing, within the default daily schedule.
func ExampleCheck() {
	p := pipeline.Partition{Every: pipeline.Day, Lag: 6 * time.Hour}
	latest, _ := p.ParseKey("2026-11-22")
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	r := freshness.Check(p, latest, now, 0, 0)
	fmt.Println("age", r.Age, "allowed", r.Allowed, "stale", r.Stale)
	for _, w := range r.Due {
		fmt.Println("due", p.Key(w))
	}
	// Output:
	// age 34h0m0s allowed 55h0m0s stale false
	// due 2026-11-23
}
