package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/shared/pipeline"
)

// Config is one chaos round.
type Config struct {
	Seed      uint64        // the schedule of signals and faults
	Sources   int           // S: sources, their paging styles in turn (styles)
	Days      int           // D: days from firstDay
	Records   int           // records per source and day
	PageSize  int           // records per page
	PageDelay time.Duration // added to every API response, so that signals find fetches under way
	Duration  time.Duration // the chaos lasts at most this long…
	Kills     int           // …or until this many kills (0: no limit)
	Every     time.Duration // mean time between two signals
	Settle    time.Duration // after the chaos, how long the inputs may take to settle

	Fetchers, Writers int // processes of each
	FetchWorkers      int // each fetcher's SLUICE_WORKERS
	// The services' timing: SLUICE_LEASE, SLUICE_HEARTBEAT, SLUICE_VISIBILITY
	// (also the queues' visibility timeout), and the queues' maxReceiveCount.
	Lease, Heartbeat, Visibility time.Duration
	MaxReceive                   int
	// SweepEvery is the scheduler's SLUICE_SWEEP_EVERY.
	SweepEvery time.Duration
	// Concurrency is the pagination.concurrency of the sources whose pages
	// are known in advance (page_number and offset, both with a total):
	// their walks have that many requests in flight while signals strike.
	Concurrency int
	// Slices is the partition.slices of the cursor source (the second):
	// a time-filtered API whose windows are walked in that many time
	// slices at once, each checkpointed on its own, while signals strike.
	// 1: walked whole.
	Slices int
}

// Long is `make chaos`: 6 sources × 4 days for up to three minutes.
func Long() Config {
	return Config{
		Seed: 1, Sources: 6, Days: 4, Records: 2950, PageSize: 100, PageDelay: 300 * time.Millisecond,
		Duration: 3 * time.Minute, Every: 3 * time.Second, Settle: 2 * time.Minute,
		Fetchers: 2, Writers: 2, FetchWorkers: 2,
		Lease: 6 * time.Second, Heartbeat: 2 * time.Second, Visibility: 4 * time.Second, MaxReceive: 5,
		SweepEvery: 2 * time.Second, Concurrency: 3, Slices: 4,
	}
}

// Short is the variant `make test` runs: 4 sources × 2 days, 25 seconds
// of chaos.
func Short() Config {
	c := Long()
	c.Sources, c.Days, c.Records = 4, 2, 1950
	c.Duration, c.Every, c.Settle = 25*time.Second, 2*time.Second, time.Minute
	return c
}

// Validate reports every setting the rig cannot run with.
func (c Config) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.Sources >= 1, "sources %d: want at least 1", c.Sources)
	check(c.Days >= 1 && c.Days <= 28, "days %d: want 1 to 28", c.Days)
	check(c.PageSize >= 1 && c.PageSize <= demoapi.MaxPageSize, "page size %d: want 1 to %d", c.PageSize, demoapi.MaxPageSize)
	check(c.Records > c.PageSize && c.Records%c.PageSize != 0, "records %d: want more than a page (%d) and not a multiple of it, so that every walk ends on a short page", c.Records, c.PageSize)
	check(c.Duration > 0 && c.Every > 0 && c.Settle > 0, "duration, every and settle must be positive")
	check(c.Kills >= 0, "kills %d: want 0 (no limit) or more", c.Kills)
	check(c.Fetchers >= 1 && c.Writers >= 1 && c.FetchWorkers >= 1, "want at least one fetcher, one writer and one worker per fetcher")
	check(c.PageDelay >= 0, "page delay %v: want 0 or more", c.PageDelay)
	check(c.Concurrency >= 1 && c.Concurrency <= pipeline.MaxConcurrency, "concurrency %d: want 1 to %d", c.Concurrency, pipeline.MaxConcurrency)
	check(c.Slices >= 1 && c.Slices <= pipeline.MaxSlices && 86400%c.Slices == 0, "slices %d: want a divisor of a day's seconds, 1 to %d", c.Slices, pipeline.MaxSlices)
	check(c.Heartbeat > 0 && c.Heartbeat < c.Lease/2, "heartbeat %v: want under half the lease %v", c.Heartbeat, c.Lease)
	check(c.Visibility >= time.Second && c.Visibility%time.Second == 0, "visibility %v: want whole seconds", c.Visibility)
	check(c.MaxReceive >= 2, "max receive %d: want at least 2", c.MaxReceive)
	return errors.Join(errs...)
}

// pages is the pages of one window: every walk ends on its short last page.
func (c Config) pages() int { return (c.Records + c.PageSize - 1) / c.PageSize }

// windowPages is the pages a clean walk of source's window day fetches:
// the window's, or the sum of its slices' (each ends on its own short
// page; an empty slice is one empty page).
func (c Config) windowPages(api *demoapi.Server, source, day string) int {
	so := c.sources()[source]
	if so.Slices <= 1 {
		return c.pages()
	}
	start, _ := time.Parse(time.DateOnly, day)
	w := pipeline.Window{Start: start, End: start.AddDate(0, 0, 1)}
	n := 0
	for _, s := range (pipeline.Partition{Every: pipeline.Day, Slices: so.Slices}).SlicesOf(w) {
		n += max(1, (len(api.RecordsBetween(source, s.Start, s.End))+c.PageSize-1)/c.PageSize)
	}
	return n
}

// anyOrder reports whether source's records land in no set order (it is
// walked in slices; localrun.VerifyAnyOrder).
func (c Config) anyOrder(source string) bool { return c.sources()[source].Slices > 1 }

// firstDay is the first window of every source.
const firstDay = "2026-11-01"

// days returns the windows of the round.
func (c Config) days() []string {
	first, _ := time.Parse(time.DateOnly, firstDay)
	out := make([]string, c.Days)
	for i := range out {
		out[i] = first.AddDate(0, 0, i).Format(time.DateOnly)
	}
	return out
}

// styles are the paging styles the sources take in turn: each ends its
// walk on its last page (no empty page after it), so a clean walk fetches
// exactly the pages of the window.
var styles = []demoapi.Style{demoapi.PageNumber, demoapi.Cursor, demoapi.Offset, demoapi.LinkHeader, demoapi.NextURL}

// sources returns the demo API's sources: s<i>-<style>, each response
// slowed by PageDelay. The first one has a quota of half a window's pages
// per quotaPeriod, so every walk of its windows stops at least once and
// goes on in a delayed continuation. The second (cursor) is time-filtered
// and walked in Slices slices a window.
func (c Config) sources() map[string]demoapi.SourceOptions {
	out := map[string]demoapi.SourceOptions{}
	for i := range c.Sources {
		so := demoapi.SourceOptions{Style: styles[i%len(styles)], Delay: c.PageDelay}
		if i == 0 {
			so.Quota = &demoapi.Quota{Requests: max(1, c.pages()/2), Period: c.quotaPeriod()}
		}
		if i == 1 {
			so.Slices = c.Slices
		}
		out[sourceName(i, so.Style)] = so
	}
	return out
}

// quotaPeriod is the time one walk of a window takes at least (its pages'
// delays), and at least two seconds: over a second, so that the quota's
// Retry-After stops the walk (retryYAML).
func (c Config) quotaPeriod() time.Duration {
	return max(2*time.Second, time.Duration(c.pages())*c.PageDelay).Round(time.Second)
}

func sourceName(i int, style demoapi.Style) string {
	return "s" + strconv.Itoa(i) + "-" + string(style)
}

// concurrencyYAML sets pagination.concurrency in the config of every
// page_number and offset source of y, as demoapi writes them.
func (c Config) concurrencyYAML(y string) string {
	for _, t := range []string{"page_number", "offset"} {
		line := "      type: " + t + "\n"
		y = strings.ReplaceAll(y, line, line+"      concurrency: "+strconv.Itoa(c.Concurrency)+"\n")
	}
	return y
}

// retryYAML is every source's retry section: a Retry-After over a second
// (the quota's, an injected 429's) stops the walk into a delayed
// continuation instead of being waited out in process.
const retryYAML = "    retry: {max_attempts: 3, base_delay: 100ms, max_delay: 500ms, max_retry_after: 1s, max_wait: 2s}\n"

// serviceEnv is every service's environment on top of localrun's.
func (c Config) serviceEnv() []string {
	return []string{
		"SLUICE_LEASE=" + c.Lease.String(),
		"SLUICE_HEARTBEAT=" + c.Heartbeat.String(),
		"SLUICE_VISIBILITY=" + c.Visibility.String(),
		"SLUICE_MAX_MESSAGE_BYTES=32768", // many batches per window
		"SLUICE_STOP_BACKOFF=1s",
		"SLUICE_HANDOFF_AFTER=3s", // long walks hand over, as on Lambda
	}
}
