// Command chaos runs a chaos round: several sources and days through the
// real service binaries, against the local emulators and the demo API,
// while fetcher and writer processes are killed (SIGKILL, then restarted)
// and paused (SIGSTOP, then SIGCONT, sometimes past the lease) at random
// and the API answers 5xx and 429 at random and enforces a quota. It then
// checks every partition against the API, counts what is left in the
// dead-letter queues, and prints one line of figures:
//
//	chaos: seed=1 inputs=24 settled=24 kills=31 pauses=12 faults=412 quota_429=37 exact=24/24 dlq_left=0 worst_takeup=11.2s pages=1.07x (fetched 770 / in windows 720) elapsed=94s
//
// It exits 1 unless every input settled (SUCCEEDED or FAILED), every
// partition is exact and no DLQ message is left. The seed fixes the
// schedule of signals and faults (not how the processes interleave), so
// `-seed N` replays a failing round's schedule. Each round provisions its
// own queues, table and bucket (left in place, like the demo's) and keeps
// the service logs under .local/chaos/<prefix>/logs.
//
// Run it with `make chaos` (the long variant) or `go run ./scripts/chaos -short`.
// The README's "Chaos" section says what each figure means.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/sluice-data/sluice/scripts/localrun"
	"github.com/sluice-data/sluice/shared/devstack"
)

func main() {
	cfg, err := parseFlags(os.Args[1:])
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case err != nil:
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	fig, err := run(ctx, cfg)
	stop()
	fmt.Println(fig)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos FAILED:", err)
		os.Exit(1)
	}
	if !fig.OK() {
		fmt.Fprintf(os.Stderr, "chaos FAILED: see the lines above; replay the schedule with -seed %d\n", fig.Seed)
		os.Exit(1)
	}
}

// parseFlags returns the round the flags ask for: Long, or Short with
// -short, with every other flag given on top. Seed 0 (the default) is
// taken from the clock.
func parseFlags(args []string) (Config, error) {
	c := Long()
	c.Seed = 0
	fs := bind(&c)
	short := fs.Bool("short", false, "the short variant make test runs (4 sources × 2 days, 25s of chaos)")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if *short {
		s := Short()
		s.Seed = c.Seed
		over := bind(&s)
		var err error
		fs.Visit(func(f *flag.Flag) {
			if f.Name != "short" && err == nil {
				err = over.Set(f.Name, f.Value.String())
			}
		})
		c = s
		if err != nil {
			return Config{}, err
		}
	}
	if c.Seed == 0 {
		c.Seed = uint64(time.Now().UnixNano())
	}
	return c, c.Validate()
}

// bind defines the flags of c, with c's values as defaults.
func bind(c *Config) *flag.FlagSet {
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "seed of the schedule of signals and faults (0: from the clock; printed)")
	fs.IntVar(&c.Sources, "sources", c.Sources, "sources, their paging styles in turn; the first has a quota")
	fs.IntVar(&c.Days, "days", c.Days, "days from "+firstDay)
	fs.IntVar(&c.Records, "records", c.Records, "records per source and day (pages of 100)")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "the chaos lasts at most this long")
	fs.IntVar(&c.Kills, "kills", c.Kills, "end the chaos after this many kills (0: no limit)")
	fs.DurationVar(&c.Every, "every", c.Every, "mean time between two signals")
	fs.DurationVar(&c.Settle, "settle", c.Settle, "after the chaos, how long the inputs may take to settle")
	fs.IntVar(&c.Fetchers, "fetchers", c.Fetchers, "fetcher processes")
	fs.IntVar(&c.Writers, "writers", c.Writers, "writer processes")
	fs.IntVar(&c.Concurrency, "concurrency", c.Concurrency, "pagination.concurrency of the page_number and offset sources (1: serial walks)")
	fs.IntVar(&c.Slices, "slices", c.Slices, "partition.slices of the cursor source, time-filtered (1: walked whole)")
	return fs
}

// run provisions a resource set on the local emulators, builds the
// binaries and runs the round.
func run(ctx context.Context, cfg Config) (Figures, error) {
	fig := Figures{Seed: cfg.Seed}
	root, err := devstack.RepoRoot()
	if err != nil {
		return fig, err
	}
	endpoints, err := devstack.Ensure(ctx)
	if err != nil {
		return fig, err
	}
	awsCfg, err := devstack.AWSConfig(ctx, endpoints)
	if err != nil {
		return fig, err
	}
	names := devstack.Names{Prefix: "chaos-" + time.Now().UTC().Format("20060102-150405")}
	res, err := devstack.Provision(ctx, awsCfg, names, devstack.Options{VisibilityTimeout: cfg.Visibility, MaxReceiveCount: cfg.MaxReceive})
	if err != nil {
		return fig, err
	}
	bin := filepath.Join(root, ".local", "bin")
	if err := localrun.Build(ctx, root, bin); err != nil {
		return fig, err
	}
	work := filepath.Join(root, ".local", "chaos", names.Prefix)
	fmt.Fprintf(os.Stderr, "chaos: seed %d, resources %s-*, logs in %s\n", cfg.Seed, names.Prefix, filepath.Join(work, "logs"))
	return round(ctx, cfg, stack{Endpoints: endpoints, Config: awsCfg, Resources: res}, bin, work, os.Stderr)
}
