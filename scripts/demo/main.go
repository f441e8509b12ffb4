// Command demo runs the whole Sluice pipeline end to end on the local AWS
// emulators and checks what it wrote:
//
//  1. starts the emulators (scripts/stack.sh up) unless they already run,
//     and creates a fresh set of queues, DLQs, runs table and bucket;
//  2. serves the demo API on 127.0.0.1 and writes a pipeline config for
//     its four sources: page-number, cursor, page-number without a total,
//     and an OAuth2-protected one paged by Link headers whose tokens the API
//     revokes every few pages (its credentials reach the fetcher as env:
//     secrets);
//  3. builds and starts scheduler, dedupe, fetcher and writer as local
//     pollers;
//  4. triggers 4 sources × 3 days (or those -sources and -days ask for) twice at once (the second trigger must
//     lose every claim), plus one input injected by hand; every fetch hands
//     over to a new invocation every 300ms, as one outliving a Lambda does;
//  5. waits until every input SUCCEEDED, prints the runs and the S3 keys,
//     and compares every partition with the API's records (count and
//     SHA-256);
//  6. stops everything it started.
//
// Run it with `make demo`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/scripts/localrun"
	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/sink"
)

func main() {
	perDay := flag.Int("records-per-day", 20000, "records the demo API serves per source and day")
	timeout := flag.Duration("timeout", 100*time.Second, "give up when the runs are not done by then")
	keep := flag.Bool("keep", false, "leave the emulators running and print the environment for this demo's resources")
	only := flag.String("sources", "", "comma-separated sources to trigger (default: all four)")
	nDays := flag.Int("days", len(days), fmt.Sprintf("days to trigger, from %s (1..%d)", firstDay, len(days)))
	format := flag.String("format", "jsonl", "published file format: jsonl, or parquet (inferred columns and a record column)")
	flag.Parse()
	if *format != "jsonl" && *format != "parquet" {
		fmt.Fprintf(os.Stderr, "demo: -format %q, want jsonl or parquet\n", *format)
		os.Exit(2)
	}
	if *nDays < 1 || *nDays > len(days) {
		fmt.Fprintf(os.Stderr, "demo: -days %d, want 1..%d\n", *nDays, len(days))
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *perDay, *timeout, *keep, *only, *format, days[:*nDays]); err != nil {
		fmt.Fprintln(os.Stderr, "demo FAILED:", err)
		stop()
		os.Exit(1)
	}
}

const firstDay = "2026-11-01"

// withFormat gives every source of cfg the output format: for parquet,
// columns inferred from the records and a record column keeping each
// record as sent, which the demo checks against the API.
func withFormat(cfg, format string) string {
	if format != "parquet" {
		return cfg
	}
	var b strings.Builder
	for line := range strings.Lines(cfg) {
		b.WriteString(line)
		if strings.HasPrefix(line, "  - name: ") {
			b.WriteString("    output: {format: parquet, record_column: record}\n")
		}
	}
	return b.String()
}

var days = []string{"2026-11-01", "2026-11-02", "2026-11-03"}

// run runs the demo for the sources named in only (all when empty) over
// days.
func run(ctx context.Context, perDay int, timeout time.Duration, keep bool, only, format string, days []string) (err error) {
	root, err := devstack.RepoRoot()
	if err != nil {
		return err
	}
	work := filepath.Join(root, ".local", "demo")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}

	// 1. Emulators and resources.
	step("starting the local AWS emulators")
	alreadyUp := devstack.LocalEndpoints().Check(ctx) == nil
	endpoints, err := devstack.Ensure(ctx)
	if err != nil {
		return err
	}
	if !alreadyUp && !keep {
		defer func() {
			step("stopping the emulators the demo started")
			if derr := exec.Command(filepath.Join(root, "scripts", "stack.sh"), "down").Run(); derr != nil && err == nil {
				err = fmt.Errorf("stack down: %w", derr)
			}
		}()
	}
	awsCfg, err := devstack.AWSConfig(ctx, endpoints)
	if err != nil {
		return err
	}
	names := devstack.Names{Prefix: "demo-" + time.Now().UTC().Format("20060102-150405")}
	res, err := devstack.Provision(ctx, awsCfg, names, devstack.Options{VisibilityTimeout: 60 * time.Second, MaxReceiveCount: 3})
	if err != nil {
		return err
	}
	fmt.Printf("   resources: queues %s-{triggers,inputs,fetch,batches}[-dlq], table %s, bucket %s\n", names.Prefix, res.Table, res.Bucket)

	// 2. Demo API and pipeline config.
	sources := demoapi.DefaultSources()
	sources["tickets"] = demoapi.SourceOptions{Style: demoapi.LinkHeader, Auth: demoapi.AuthOAuth2, TokenUses: 5}
	triggered := slices.Sorted(maps.Keys(sources))
	if only != "" {
		triggered = strings.Split(only, ",")
		for _, s := range triggered {
			if _, ok := sources[s]; !ok {
				return fmt.Errorf("-sources: no demo source %q (have %v)", s, slices.Sorted(maps.Keys(sources)))
			}
		}
	}
	lastDay := nextDay(days[len(days)-1])
	api := demoapi.New(demoapi.Options{RecordsPerDay: perDay, PageSize: 1000, Sources: sources})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	apiURL := "http://" + ln.Addr().String()
	pipelineFile := filepath.Join(work, "pipeline.yaml")
	if err := os.WriteFile(pipelineFile, []byte(withFormat(api.PipelineYAML(apiURL, nil), format)), 0o644); err != nil {
		return err
	}
	fmt.Printf("   demo API on %s, %d records per source and day; pipeline config %s\n", apiURL, perDay, pipelineFile)

	// 3. Services.
	step("building and starting scheduler, dedupe, fetcher, writer")
	p := &localrun.Pipeline{
		Bin: filepath.Join(root, ".local", "bin"), LogDir: filepath.Join(work, "logs", names.Prefix),
		Endpoints: endpoints, Resources: res, PipelineFile: pipelineFile,
		Env: demoEnv(),
	}
	if err := localrun.Build(ctx, root, p.Bin); err != nil {
		return err
	}
	if err := p.StartAll(); err != nil {
		return err
	}
	defer func() {
		if serr := p.StopAll(); serr != nil && err == nil {
			err = serr
		}
	}()
	fmt.Printf("   logs (zap JSON) in %s\n", p.LogDir)

	// 4. Triggers: the whole range twice at once, and one input by hand.
	step(fmt.Sprintf("triggering %d sources × %d days, twice at once, plus one input by hand", len(triggered), len(days)))
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = p.Ctl(ctx, "schedule", "--sources", strings.Join(triggered, ","), "--from", firstDay, "--to", lastDay)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, errs[2] = p.Ctl(ctx, "trigger", "--source", triggered[0], "--window", days[0])
	}()
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}

	// 5. Wait, report, verify.
	store, err := runs.New(dynamodb.NewFromConfig(awsCfg), runs.Config{Table: res.Table})
	if err != nil {
		return err
	}
	var inputs []string
	for _, s := range triggered {
		for _, d := range days {
			inputs = append(inputs, s+"/"+d)
		}
	}
	step(fmt.Sprintf("waiting for %d inputs to finish", len(inputs)))
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	finished, err := localrun.WaitRuns(wctx, store, inputs, func(r runs.Run) bool { return r.Status == runs.Succeeded || r.Status == runs.Failed })
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	out, err := p.Ctl(ctx, "runs")
	if err != nil {
		return err
	}
	fmt.Print(out)

	step("S3 objects written and checked against the demo API")
	s3c := s3.NewFromConfig(awsCfg)
	sk := sink.New(s3c, res.Bucket, "")
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PARTITION (POINTER)\tOBJECTS\tRECORDS\tBYTES\tMATCHES API")
	var total, bytes int64
	var problems []string
	for _, r := range finished {
		if r.Status != runs.Succeeded {
			problems = append(problems, fmt.Sprintf("%s ended %s: %s", r.Input, r.Status, r.LastError))
			continue
		}
		if r.Attempt != 1 {
			problems = append(problems, fmt.Sprintf("%s took %d attempts; the duplicate triggers must not start new ones", r.Input, r.Attempt))
		}
		sp := sink.Partition{Source: r.Source, Hive: "dt=" + r.Window}
		prefix := sk.PointerKey(sp)
		part, err := localrun.ReadPartition(ctx, s3c, sk, sp)
		if err != nil {
			return err
		}
		want := api.RecordsFor(r.Source, r.Window)
		ok := len(part.Records) == len(want) && part.Hash() == localrun.HashRecords(want) && int64(len(want)) == r.Records && part.Attempt == r.Attempt
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: S3 holds %d records, the API %d, the run says %d (or the content differs)", r.Input, len(part.Records), len(want), r.Records))
		}
		fmt.Fprintf(tw, "s3://%s/%s\t%d\t%d\t%d\t%v\n", res.Bucket, prefix, len(part.Keys), len(part.Records), part.Bytes, ok)
		total += int64(len(part.Records))
		bytes += part.Bytes
	}
	tw.Flush()
	if len(problems) > 0 {
		return fmt.Errorf("%d problems:\n  %s", len(problems), strings.Join(problems, "\n  "))
	}

	step("AWS requests, counted by the services themselves (retries included)")
	if err := p.StopAll(); err != nil {
		return err
	}
	requests, err := p.AWSRequests()
	if err != nil {
		return err
	}
	printRequests(requests, finished)
	fetcherLog, err := p.Logs("fetcher")
	if err != nil {
		return err
	}
	fmt.Printf("fetches handed over to a new invocation %d times; %d OAuth2 tokens issued to tickets (the API revokes each after 5 uses)\n",
		strings.Count(fetcherLog, "handed over to a new invocation"), api.TokenRequests())
	fmt.Printf("\n%d records (%d inputs, %.1f MiB published) in %v: %.0f records/s end to end, duplicates dropped by dedupe, every partition identical to the API\n",
		total, len(finished), float64(bytes)/(1<<20), elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds())
	if keep {
		fmt.Println("\nThe emulators and this demo's resources stay up. To use them (sluicectl, the services, aws sqs …):")
		// Everything the services were started with but SLUICE_DLQ_URL (one
		// per service) and the poller's timings: the demo API's credentials
		// too, which the fetcher needs to start (the config's env: secrets).
		// The queues' maxReceiveCount is read from their redrive policy.
		for _, kv := range slices.Concat(devstack.Env(endpoints), res.Env(), demoEnv()) {
			k, v, _ := strings.Cut(kv, "=")
			fmt.Printf("export %s=%q\n", k, v)
		}
		fmt.Printf("export SLUICE_PIPELINE_FILE=%q\n", pipelineFile)
		fmt.Println("(the demo API stops with the demo; point the pipeline config at your own API to fetch more)")
	}
	return nil
}

func step(s string) { fmt.Printf("==> %s\n", s) }

// nextDay is the day after day (YYYY-MM-DD): the exclusive end of a range.
func nextDay(day string) string {
	t, err := time.Parse(time.DateOnly, day)
	if err != nil {
		panic(err) // days are constants
	}
	return t.AddDate(0, 0, 1).Format(time.DateOnly)
}

// demoEnv is the services' extra environment: the demo API's credentials,
// which the pipeline config names as env: secrets, and a hand-over of
// every fetch after 300ms.
func demoEnv() []string {
	env := []string{"SLUICE_HANDOFF_AFTER=300ms"}
	for _, k := range slices.Sorted(maps.Keys(demoapi.Env())) {
		env = append(env, k+"="+demoapi.Env()[k])
	}
	return env
}

// printRequests shows the AWS requests of the whole demo, by operation, and
// per run and per batch.
func printRequests(requests map[string]int64, finished []runs.Run) {
	batches := 0
	for _, r := range finished {
		if r.BatchesExpected != nil {
			batches += *r.BatchesExpected
		}
	}
	by := map[string]int64{}
	keys := slices.Sorted(maps.Keys(requests))
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "OPERATION\tREQUESTS")
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%d\n", k, requests[k])
		service, _, _ := strings.Cut(k, ".")
		by[service] += requests[k]
	}
	tw.Flush()
	fmt.Printf("%d runs, %d batches (duplicate triggers included in the counts):\n", len(finished), batches)
	for _, service := range []string{"DynamoDB", "S3", "SQS"} {
		fmt.Printf("  %-8s %6d requests: %.1f per run, %.2f per batch\n", service, by[service],
			float64(by[service])/float64(len(finished)), float64(by[service])/float64(max(batches, 1)))
	}
}
