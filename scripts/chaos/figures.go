package main

import (
	"fmt"
	"time"
)

// Figures are what a chaos round measured.
type Figures struct {
	Seed           uint64
	Inputs         int           // source × window inputs triggered
	Settled        int           // of them SUCCEEDED or FAILED by the end
	Exact          int           // of them whose partition holds exactly the API's records
	Kills          int           // SIGKILLs of a fetcher or writer (each restarted)
	Pauses         int           // SIGSTOPs of a fetcher or writer (each SIGCONT'd later)
	Faults         int           // API responses with an injected 5xx or 429
	OverQuota      int           // API responses refused by a quota (429 with Retry-After)
	DLQLeft        int           // messages in the four DLQs at the end
	WorstTakeup    time.Duration // see takeup.go
	NotTakenUp     int           // work held at a signal and never advanced by the end
	PagesFetched   int           // pages the API served
	PagesInWindows int           // pages the triggered windows hold
	Elapsed        time.Duration // from the trigger to the last check
}

// OK reports whether the round passed: every input settled, every
// partition exact, no DLQ message left (every input of the round is
// valid).
func (f Figures) OK() bool {
	return f.Settled == f.Inputs && f.Exact == f.Inputs && f.DLQLeft == 0
}

// String is the one line of figures.
func (f Figures) String() string {
	takeup := fmt.Sprintf("%.1fs", f.WorstTakeup.Seconds())
	if f.NotTakenUp > 0 {
		takeup = fmt.Sprintf(">%s (%d never taken up)", takeup, f.NotTakenUp)
	}
	ratio := 0.0
	if f.PagesInWindows > 0 {
		ratio = float64(f.PagesFetched) / float64(f.PagesInWindows)
	}
	return fmt.Sprintf("chaos: seed=%d inputs=%d settled=%d kills=%d pauses=%d faults=%d quota_429=%d exact=%d/%d dlq_left=%d worst_takeup=%s pages=%.2fx (fetched %d / in windows %d) elapsed=%.0fs",
		f.Seed, f.Inputs, f.Settled, f.Kills, f.Pauses, f.Faults, f.OverQuota, f.Exact, f.Inputs, f.DLQLeft,
		takeup, ratio, f.PagesFetched, f.PagesInWindows, f.Elapsed.Seconds())
}
