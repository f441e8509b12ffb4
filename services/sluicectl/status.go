package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sluice-data/sluice/services/sluicectl/grid"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/freshness"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/runs"
)

// cmdStatus prints the status grid: every source (or --source) × its last
// windows, each cell its run's state, with the source's freshness and its
// failed windows. It reads the runs of the windows shown by key (one
// BatchGetItem per 100 windows), so that it is cheap enough to run in a
// loop (--watch).
func cmdStatus(ctx context.Context, aws awsClients, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	last := fs.Int("last", 14, "windows shown per source, up to the one now falls in")
	source := fs.String("source", "", "show one source (default: every source)")
	asJSON := fs.Bool("json", false, "print the grid as JSON (schema: README, sluicectl status)")
	htmlFile := fs.String("html", "", "write the grid as one self-contained HTML page to `FILE` instead")
	grace := fs.Duration("grace", 0, "slack on top of partition.lag + one window + the schedule's period before a source is stale (default: 1h)")
	every := fs.Duration("schedule-interval", envDuration("SLUICE_SCHEDULE_INTERVAL"), "the longest gap between the scheduled trigger's fires, as Terraform's schedule_interval (default: $SLUICE_SCHEDULE_INTERVAL, else 24h)")
	at := fs.String("now", "", "show the grid as at this RFC 3339 time (default: now)")
	watch := fs.Duration("watch", 0, "redraw every `DURATION` until interrupted (the screen is cleared only on a terminal; not with --json or --html)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: sluicectl status [--last N] [--source S] [--json | --html FILE] [--watch D]\n\n"+
			"Sources × their latest windows: S succeeded, R running, F failed, - missing (due, no run), . not yet due;\n"+
			"each source's freshness, then the runs in progress and the failed windows with their error.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *last < 1 || *last > freshness.MaxDue {
		return fmt.Errorf("status: --last %d: want 1 to %d", *last, freshness.MaxDue)
	}
	if *watch > 0 && (*asJSON || *htmlFile != "") {
		return errors.New("status: --watch redraws the terminal grid; it does not go with --json or --html")
	}
	var fixed time.Time
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return fmt.Errorf("--now: %w", err)
		}
		fixed = t
	}
	cfg, err := loadPipeline()
	if err != nil {
		return err
	}
	sources := cfg.Sources
	if *source != "" {
		src, ok := cfg.Source(*source)
		if !ok {
			return fmt.Errorf("status: unknown source %q (not in %s)", *source, cfg.File)
		}
		sources = []pipeline.Source{*src}
	}
	store, err := openStore(aws)
	if err != nil {
		return err
	}
	colour := isTerminal(out) && os.Getenv("NO_COLOR") == ""
	for {
		g, err := readGrid(ctx, store, sources, fixed, *last, *every, *grace)
		if err != nil {
			if *watch > 0 && ctx.Err() != nil {
				return nil // interrupted mid-read: the watch is over
			}
			return err
		}
		switch {
		case *htmlFile != "":
			var b bytes.Buffer
			if err := grid.HTML(&b, g); err != nil {
				return err
			}
			if err := os.WriteFile(*htmlFile, b.Bytes(), 0o644); err != nil {
				return fmt.Errorf("status: %w", err)
			}
			fmt.Fprintf(out, "wrote %s (%d sources, %d windows each)\n", *htmlFile, len(g.Sources), g.Last)
			return nil
		case *asJSON:
			return grid.JSON(out, g)
		}
		var b bytes.Buffer // drawn whole, so a redraw does not flicker
		if *watch > 0 && isTerminal(out) {
			b.WriteString("\x1b[H\x1b[2J")
		}
		if err := grid.Text(&b, g, colour); err != nil {
			return err
		}
		if _, err := out.Write(b.Bytes()); err != nil || *watch <= 0 {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*watch):
		}
		if !isTerminal(out) {
			fmt.Fprintln(out)
		}
	}
}

// readGrid reads the runs of the last n windows of each source, and of
// the latest SUCCEEDED window of each that has none among them, and
// builds the grid at at, or when at is zero at the time the read ended:
// a now taken before the read would be older than a run claimed during it.
func readGrid(ctx context.Context, store *runs.Store, sources []pipeline.Source, at time.Time, n int, every, grace time.Duration) (grid.Grid, error) {
	now := at
	if now.IsZero() {
		now = time.Now().UTC()
	}
	var keys []string
	for _, src := range sources {
		for _, w := range grid.Windows(src.Partition, now, n) {
			keys = append(keys, contracts.InputKey(src.Name, src.Partition.Key(w)))
		}
	}
	got, err := store.GetMany(ctx, keys)
	if err != nil {
		return grid.Grid{}, err
	}
	in := make([]grid.Input, 0, len(sources))
	for i := range sources {
		src := &sources[i]
		ws := grid.Windows(src.Partition, now, n)
		byWindow := make(map[string]runs.Run, len(ws))
		var latest *runs.Run
		for _, w := range ws {
			if r, ok := got[contracts.InputKey(src.Name, src.Partition.Key(w))]; ok {
				byWindow[r.Window] = r
				if r.Status == runs.Succeeded {
					latest = &r
				}
			}
		}
		if latest == nil && len(ws) > 0 {
			if latest, err = olderSucceeded(ctx, store, src, ws[0].Start); err != nil {
				return grid.Grid{}, err
			}
		}
		in = append(in, grid.Input{Source: src, Runs: byWindow, Latest: latest})
	}
	if at.IsZero() {
		// A window that began during the read has no run read, and shows
		// not yet due, as it is: a window is due only after it ends.
		now = time.Now().UTC()
	}
	return grid.Build(now, n, every, grace, in), nil
}

// olderSucceeded finds the latest SUCCEEDED run of src among the windows
// before before: back to partition.start, at most freshness.MaxDue of them.
func olderSucceeded(ctx context.Context, store *runs.Store, src *pipeline.Source, before time.Time) (*runs.Run, error) {
	p := src.Partition
	from := before.AddDate(0, 0, -freshness.MaxDue)
	if p.Every == pipeline.Hour {
		from = before.Add(-freshness.MaxDue * time.Hour)
	}
	if from.Before(p.Start) {
		from = p.Start
	}
	ws := p.Windows(from, before)
	keys := make([]string, 0, len(ws))
	for i := len(ws) - 1; i >= 0; i-- {
		keys = append(keys, contracts.InputKey(src.Name, p.Key(ws[i])))
	}
	r, ok, err := store.LatestSucceeded(ctx, keys)
	if err != nil || !ok {
		return nil, err
	}
	return &r, nil
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// envDuration is the duration in the environment variable name, or 0 when
// it is unset or not a duration.
func envDuration(name string) time.Duration {
	d, _ := time.ParseDuration(os.Getenv(name))
	return d
}
