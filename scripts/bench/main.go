// Command bench measures the whole Sluice pipeline on the local stack —
// the real service binaries as local pollers against the emulators, the
// demo API as the source — and prints one table in which every figure
// stands beside a reference measured in the same run, with the ratio, the
// goal and whether the goal is met:
//
//   - P1 throughput: one large input (1M records, 1,000 pages) from trigger
//     to pointer published, against `curl | gzip -1` of the same pages
//     and against curl alone;
//   - P1b latency: 200 pages with 50 ms added per request, walked with
//     pagination.concurrency 8 (-p1b-concurrency), against a serial curl
//     walk of the same pages; and the peak request rate against the
//     source's rate_limit (-only P1b measures this figure alone);
//   - P2 memory: peak RSS (getrusage of the exited process) of fetcher
//     and writer over an input of 100k records and over the 1M one;
//   - P3 claims: claims/s through the run store's Claim against raw
//     conditional PutItem/s, same table, same concurrency;
//   - P4 latency: trigger → pointer visible for one-page inputs, p50 and
//     p95;
//   - P5 requests and cost: the AWS requests the services counted
//     (SQS as billed: one per started 64 KiB of payload) per 1M records,
//     and the modelled bill of the two inputs beside Glue's minimum.
//
// Goals are reported, not asserted: bench exits 0 unless something broke.
// The table also goes to scripts/bench/results/<date>.md (-out). Run it
// with `make bench-pipeline`; -quick runs it smaller (100k records for
// the large input) in about a minute.
package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// sizes is how much work each measurement does.
type sizes struct {
	big, small int // records of the large input and of the one a tenth its size
	slowPages  int // P1b
	claims     int // P3, of each kind
	inputs     int // P4
	// only, when set, names the figures to measure (-only): the others
	// are skipped and left out of the table.
	only map[string]bool
}

// measures reports whether the run measures any of the figures ids.
func (sz sizes) measures(ids ...string) bool {
	if sz.only == nil {
		return true
	}
	for _, id := range ids {
		if sz.only[id] {
			return true
		}
	}
	return false
}

var (
	full  = sizes{big: 1_000_000, small: 100_000, slowPages: 200, claims: 2000, inputs: 50}
	quick = sizes{big: 100_000, small: 10_000, slowPages: 40, claims: 400, inputs: 10}
)

// p1bConcurrency is the slow source's pagination.concurrency: enough
// requests in flight for rate_limit (100/s) to be what bounds the walk of
// 50 ms pages, rather than the default's 4 (at most 80/s).
const p1bConcurrency = 8

// claimWorkers is the concurrency of P3: a dedupe poller's default
// SLUICE_WORKERS.
const claimWorkers = 5

func main() {
	q := flag.Bool("quick", false, "a smaller run (100k records for the large input, fewer pages, claims and inputs) for trying the harness")
	out := flag.String("out", "", "directory for <date>.md (default scripts/bench/results; \"-\" writes no file)")
	note := flag.String("note", "", "a line to add under the table (e.g. what else loaded the machine)")
	limit := flag.Duration("timeout", 10*time.Minute, "give up when the whole run takes longer")
	only := flag.String("only", "", "measure only these figures, comma-separated (P1,P1b,P2,P3,P4,P5); the table is printed, not written")
	var opt options
	flag.StringVar(&opt.pprofDir, "pprof", "", "write CPU and allocation profiles of the services during the large input to this directory (SLUICE_PPROF_DIR)")
	flag.IntVar(&opt.slowConcurrency, "p1b-concurrency", p1bConcurrency, "P1b: the slow source's pagination.concurrency (0: the config's default; 1: the serial walk)")
	flag.Parse()
	sz := full
	if *q {
		sz = quick
	}
	if *only != "" {
		sz.only = map[string]bool{}
		for _, id := range strings.Split(*only, ",") {
			sz.only[strings.TrimSpace(id)] = true
		}
		*out = "-"
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *limit)
	defer cancel()
	report, err := runWith(ctx, sz, *note, opt)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench FAILED:", err)
		stop()
		os.Exit(1)
	}
	fmt.Print(report.text)
	if *out == "-" {
		return
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join(report.root, "scripts", "bench", "results")
	}
	path := filepath.Join(dir, report.started.UTC().Format(time.DateOnly)+".md")
	if err := os.WriteFile(path, []byte(report.text), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "bench FAILED:", err)
		os.Exit(1)
	}
	fmt.Println("\nwritten to", path)
}

// report is a finished run: its table as Markdown, with the rows apart for
// tests.
type report struct {
	root    string
	started time.Time
	rows    []row
	text    string
}

func step(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "==> %s "+format+"\n", append([]any{time.Now().UTC().Format("15:04:05")}, a...)...)
}

// options are the flags that choose what a run measures.
type options struct {
	slowConcurrency int    // P1b's pagination.concurrency; 0: the config's default
	pprofDir        string // profile the services of the large input into this directory ("": not)
}

// run measures everything and renders the report.
func run(ctx context.Context, sz sizes, note string) (report, error) {
	return runWith(ctx, sz, note, options{slowConcurrency: p1bConcurrency})
}

func runWith(ctx context.Context, sz sizes, note string, opt options) (report, error) {
	rep := report{started: time.Now()}
	step("provisioning, serving the demo APIs, building the services")
	d, err := deploy(ctx, sz, opt.slowConcurrency)
	if err != nil {
		return rep, err
	}
	defer d.close()
	rep.root = d.root
	if opt.pprofDir != "" {
		if d.pprofDir, err = filepath.Abs(opt.pprofDir); err != nil {
			return rep, err
		}
	}
	memory, err := lambdaMemory(filepath.Join(d.root, "infra", "modules", "sluice", "variables.tf"))
	if err != nil {
		return rep, err
	}
	timeout := 2*time.Minute + time.Duration(sz.big/5000)*time.Second

	var small, big inputRun
	var gz, plain walk
	if sz.measures("P1", "P2", "P5") {
		step("P2/P5: %s records, fresh services", count(sz.small))
		small, err = runInput(ctx, d, "small", srcMid, timeout)
		if err != nil {
			return rep, fmt.Errorf("%s input: %w", srcMid, err)
		}
		step("P1/P2/P5: %s records, fresh services", count(sz.big))
		big, err = runInput(ctx, d, "big", srcBulk, timeout)
		if err != nil {
			return rep, fmt.Errorf("%s input: %w", srcBulk, err)
		}
	}
	if sz.measures("P1") {
		step("P1 references: curl | gzip -1, and curl alone, over the same pages")
		pages := fmt.Sprintf("%s/v1/%s?day=%s&per_page=%d&page=[1-%d]", d.bulkURL, srcBulk, day, bulkPageSize, (sz.big+bulkPageSize-1)/bulkPageSize)
		gz, err = curlWalk(ctx, pages, true)
		if err != nil {
			return rep, err
		}
		plain, err = curlWalk(ctx, pages, false)
		if err != nil {
			return rep, err
		}
	}

	var lat latency
	if sz.measures("P1b", "P4") {
		step("P1b: %d pages at 50 ms each; P4: %d one-page inputs", sz.slowPages, sz.inputs)
		lat, err = measureLatency(ctx, d, sz, timeout, sz.measures("P4"))
		if err != nil {
			return rep, err
		}
	}

	var claims, puts float64
	if sz.measures("P3") {
		step("P3: %d claims and %d conditional PutItems, %d at a time", sz.claims, sz.claims, claimWorkers)
		claims, puts, err = claimRates(ctx, d, sz.claims, claimWorkers)
		if err != nil {
			return rep, err
		}
	}

	rep.rows = rows(sz, memory, small, big, gz, plain, lat, d.rateLimit, d.burst, claims, puts)
	rep.rows = slices.DeleteFunc(rep.rows, func(r row) bool { return !sz.measures(r.ID) })
	var b strings.Builder
	mode := "full"
	if sz.big != full.big {
		mode = "quick"
	}
	if sz.only != nil {
		mode += ", only " + strings.Join(slices.Sorted(maps.Keys(sz.only)), ",")
	}
	fmt.Fprintf(&b, "# make bench-pipeline, %s\n\n", rep.started.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "Machine: %s. Run: %s, %s. Local stack: DynamoDB Local, fauxqs, versitygw; the services as local pollers (`SLUICE_WORKERS` 5).\n\n", machine(), mode, time.Since(rep.started).Round(time.Second))
	b.WriteString(markdown(rep.rows))
	b.WriteString(footnotes(memory, big))
	if sz.measures("P1") {
		b.WriteString(timelineNote(big) + "\n")
	}
	if d.pprofDir != "" {
		fmt.Fprintf(&b, "- Profiled (CPU and allocations, SLUICE_PPROF_DIR=%s) during the large input: its figures carry the profiler's cost.\n", d.pprofDir)
	}
	if note != "" {
		fmt.Fprintf(&b, "\nNote: %s\n", note)
	}
	rep.text = b.String()
	return rep, nil
}

// latency is what P1b (and P4) measured.
type latency struct {
	slow      time.Duration // trigger → pointer published of the slow input
	peak      int           // its peak requests in any 1 s
	serial    walk          // curl's serial walk of the same pages
	pointers  []time.Duration
	slowPages int
	// concurrency is the slow source's pagination.concurrency as set by
	// -p1b-concurrency; 0: the config's default.
	concurrency int
}

// measureLatency runs the slow input on fresh services, then P4's
// one-page inputs if asked, then curl's serial walk of the slow pages.
func measureLatency(ctx context.Context, d *deployment, sz sizes, timeout time.Duration, withP4 bool) (latency, error) {
	lat := latency{slowPages: sz.slowPages, concurrency: d.slowConcurrency}
	p, err := d.start("latency")
	if err != nil {
		return lat, err
	}
	slowAt, err := d.trigger(ctx, srcSlow, day)
	var slowDone time.Time
	if err == nil {
		_, err = d.wait(ctx, timeout, srcSlow+"/"+day)
	}
	if err == nil {
		slowDone, err = succeededAt(p, srcSlow+"/"+day)
	}
	if err == nil && withP4 {
		lat.pointers, err = pointerLatencies(ctx, d, sz.inputs, 30*time.Second)
	}
	if serr := d.stop(p); err == nil {
		err = serr
	}
	if err != nil {
		return lat, err
	}
	lat.slow = slowDone.Sub(slowAt)
	lat.peak = d.slowHits.peak(slowAt, slowDone, time.Second)
	lat.serial, err = curlWalk(ctx, fmt.Sprintf("%s/v1/%s?day=%s&per_page=%d&page=[1-%d]", d.slowURL, srcSlow, day, slowPageSize, sz.slowPages), false)
	return lat, err
}
