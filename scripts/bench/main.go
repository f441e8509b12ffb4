// Command bench measures the whole Sluice pipeline on the local stack —
// the real service binaries as local pollers against the emulators, the
// demo API as the source — and prints one table in which every figure
// stands beside a reference measured in the same run, with the ratio, the
// goal and whether the goal is met:
//
//   - P1 throughput: one large input (1M records, 1,000 pages) from trigger
//     to pointer published, against `curl | gzip -1` of the same pages
//     and against curl alone;
//   - P1b latency: 200 pages with 50 ms added per request, against a
//     serial curl walk of the same pages; and the peak request rate
//     against the source's rate_limit;
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
	"os"
	"os/signal"
	"path/filepath"
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
}

var (
	full  = sizes{big: 1_000_000, small: 100_000, slowPages: 200, claims: 2000, inputs: 50}
	quick = sizes{big: 100_000, small: 10_000, slowPages: 40, claims: 400, inputs: 10}
)

// claimWorkers is the concurrency of P3: a dedupe poller's default
// SLUICE_WORKERS.
const claimWorkers = 5

func main() {
	q := flag.Bool("quick", false, "a smaller run (100k records for the large input, fewer pages, claims and inputs) for trying the harness")
	out := flag.String("out", "", "directory for <date>.md (default scripts/bench/results; \"-\" writes no file)")
	note := flag.String("note", "", "a line to add under the table (e.g. what else loaded the machine)")
	limit := flag.Duration("timeout", 10*time.Minute, "give up when the whole run takes longer")
	only := flag.String("only", "", "measure only this: P1 (the large input, its curl references and its SQS billed row); default all")
	pprofDir := flag.String("pprof", "", "write CPU and allocation profiles of the services during the large input to this directory (SLUICE_PPROF_DIR)")
	flag.Parse()
	if *only != "" && !strings.EqualFold(*only, "P1") {
		fmt.Fprintln(os.Stderr, "bench: -only takes P1")
		os.Exit(2)
	}
	sz := full
	if *q {
		sz = quick
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *limit)
	defer cancel()
	report, err := run(ctx, sz, options{note: *note, p1Only: *only != "", pprofDir: *pprofDir})
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

// options are the flags of a run beyond its sizes.
type options struct {
	note     string // a line under the table
	p1Only   bool   // measure P1 (and the SQS billed row of its input) only
	pprofDir string // profile the services of the large input into this directory
}

// run measures everything (or P1 alone) and renders the report.
func run(ctx context.Context, sz sizes, o options) (report, error) {
	rep := report{started: time.Now()}
	note := o.note
	step("provisioning, serving the demo APIs, building the services")
	d, err := deploy(ctx, sz)
	if err != nil {
		return rep, err
	}
	if o.pprofDir != "" {
		if d.pprofDir, err = filepath.Abs(o.pprofDir); err != nil {
			return rep, err
		}
	}
	defer d.close()
	rep.root = d.root
	memory, err := lambdaMemory(filepath.Join(d.root, "infra", "modules", "sluice", "variables.tf"))
	if err != nil {
		return rep, err
	}
	timeout := 2*time.Minute + time.Duration(sz.big/5000)*time.Second

	var small inputRun
	if !o.p1Only {
		step("P2/P5: %s records, fresh services", count(sz.small))
		if small, err = runInput(ctx, d, "small", srcMid, timeout); err != nil {
			return rep, fmt.Errorf("%s input: %w", srcMid, err)
		}
	}
	step("P1/P2/P5: %s records, fresh services", count(sz.big))
	big, err := runInput(ctx, d, "big", srcBulk, timeout)
	if err != nil {
		return rep, fmt.Errorf("%s input: %w", srcBulk, err)
	}
	step("P1 references: curl | gzip -1, and curl alone, over the same pages")
	pages := fmt.Sprintf("%s/v1/%s?day=%s&per_page=%d&page=[1-%d]", d.bulkURL, srcBulk, day, bulkPageSize, (sz.big+bulkPageSize-1)/bulkPageSize)
	gz, err := curlWalk(ctx, pages, true)
	if err != nil {
		return rep, err
	}
	plain, err := curlWalk(ctx, pages, false)
	if err != nil {
		return rep, err
	}
	if o.p1Only {
		rep.rows = append(p1Rows(sz, big, gz, plain), sqsRow(big))
		for _, svc := range []string{"fetcher", "writer"} { // P2 without its smaller input: no growth ratio
			rep.rows = append(rep.rows, row{ID: "P2", Figure: svc + " peak RSS (fresh process)", Value: fmt.Sprintf("%s at %s records", mib(big.Usage[svc].PeakRSS), count(int(big.Records))),
				Goal: "≤ 64 MiB", Met: met(big.Usage[svc].PeakRSS <= rssBound)})
		}
		rep.text = render(rep, sz, d, big, note, "P1 only")
		return rep, nil
	}

	step("P1b: %d pages at 50 ms each; P4: %d one-page inputs", sz.slowPages, sz.inputs)
	p, err := d.start("latency")
	if err != nil {
		return rep, err
	}
	slowAt, err := d.trigger(ctx, srcSlow, day)
	var slowDone time.Time
	var latencies []time.Duration
	if err == nil {
		_, err = d.wait(ctx, timeout, srcSlow+"/"+day)
	}
	if err == nil {
		slowDone, err = succeededAt(p, srcSlow+"/"+day)
	}
	if err == nil {
		latencies, err = pointerLatencies(ctx, d, sz.inputs, 30*time.Second)
	}
	if serr := d.stop(p); err == nil {
		err = serr
	}
	if err != nil {
		return rep, err
	}
	slowPeak := d.slowHits.peak(slowAt, slowDone, time.Second)
	serial, err := curlWalk(ctx, fmt.Sprintf("%s/v1/%s?day=%s&per_page=%d&page=[1-%d]", d.slowURL, srcSlow, day, slowPageSize, sz.slowPages), false)
	if err != nil {
		return rep, err
	}

	step("P3: %d claims and %d conditional PutItems, %d at a time", sz.claims, sz.claims, claimWorkers)
	claims, puts, err := claimRates(ctx, d, sz.claims, claimWorkers)
	if err != nil {
		return rep, err
	}

	rep.rows = rows(sz, memory, small, big, gz, plain, serial, slowDone.Sub(slowAt), slowPeak, d.rateLimit, d.burst, claims, puts, latencies)
	rep.text = render(rep, sz, d, big, note, "")
	return rep, nil
}

// render is the report's Markdown: heading, table, footnotes.
func render(rep report, sz sizes, d *deployment, big inputRun, note, part string) string {
	var b strings.Builder
	mode := "full"
	if sz != full {
		mode = "quick"
	}
	if part != "" {
		mode += ", " + part
	}
	fmt.Fprintf(&b, "# make bench-pipeline, %s\n\n", rep.started.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "Machine: %s. Run: %s, %s. Local stack: DynamoDB Local, fauxqs, versitygw; the services as local pollers (`SLUICE_WORKERS` 5).\n\n", machine(), mode, time.Since(rep.started).Round(time.Second))
	b.WriteString(markdown(rep.rows))
	memory, _ := lambdaMemory(filepath.Join(d.root, "infra", "modules", "sluice", "variables.tf"))
	b.WriteString(footnotes(memory, big))
	if d.pprofDir != "" {
		fmt.Fprintf(&b, "- Profiled (CPU and allocations, SLUICE_PPROF_DIR=%s) during the large input: its figures carry the profiler's cost.\n", d.pprofDir)
	}
	if note != "" {
		fmt.Fprintf(&b, "\nNote: %s\n", note)
	}
	return b.String()
}
