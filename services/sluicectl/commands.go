package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sluice-data/sluice/services/sluicectl/grid"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/queue"
	"github.com/sluice-data/sluice/shared/runs"
)

func env(name string) (string, error) {
	v := os.Getenv(name)
	if v == "" {
		return "", fmt.Errorf("%s is not set", name)
	}
	return v, nil
}

// loadPipeline loads the pipeline config named by SLUICE_PIPELINE_FILE,
// which every message is checked against before it is sent.
func loadPipeline() (*pipeline.Config, error) {
	file, err := env("SLUICE_PIPELINE_FILE")
	if err != nil {
		return nil, err
	}
	return pipeline.Load(file)
}

func cmdTrigger(ctx context.Context, aws awsClients, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("trigger", flag.ContinueOnError)
	src := fs.String("source", "", "source name from the pipeline config (required)")
	window := fs.String("window", "", "partition window key, e.g. 2026-11-01 or 2026-11-01T13 (required); it must have ended, plus the source's partition.lag")
	force := fs.Bool("force", false, "rerun even if the input already SUCCEEDED")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadPipeline()
	if err != nil {
		return err
	}
	// As dedupe will: a window that is not due yet, or before the source's
	// start, is refused here instead of parked there.
	check := func(b []byte) error {
		in, err := contracts.DecodeInput(b)
		if err != nil {
			return err
		}
		if _, _, err := cfg.Admit(in.Source, in.Window, time.Now()); err != nil {
			return fmt.Errorf("nothing sent: %w", err)
		}
		return nil
	}
	in := contracts.NewInput(*src, *window, contracts.TriggerManual, *force)
	if err := send(ctx, aws, "SLUICE_INPUTS_QUEUE_URL", in, check); err != nil {
		return err
	}
	fmt.Fprintf(out, "triggered %s\n", in.Key())
	// Say what dedupe will do with it, when the runs table is at hand.
	if store, err := openStore(aws); err == nil {
		if r, err := store.Get(ctx, in.Key()); err == nil {
			switch {
			case r.Status == runs.Succeeded && !*force:
				fmt.Fprintf(out, "note: %s already SUCCEEDED (attempt %d); a plain trigger does not run it again, and dedupe will drop this one. Use --force to rerun it.\n", in.Key(), r.Attempt)
			case r.Status.Live() && time.Now().Unix() <= r.LeaseUntil:
				fmt.Fprintf(out, "note: %s is %s as attempt %d until %s; dedupe will drop this trigger unless that lease runs out first.\n",
					in.Key(), r.Status, r.Attempt, r.LeaseExpiry().Format(time.RFC3339))
			}
		}
	}
	return nil
}

// openStore opens the runs table named by SLUICE_RUNS_TABLE.
func openStore(aws awsClients) (*runs.Store, error) {
	table, err := env("SLUICE_RUNS_TABLE")
	if err != nil {
		return nil, err
	}
	clients, err := aws()
	if err != nil {
		return nil, err
	}
	return runs.New(clients.DynamoDB, runs.Config{Table: table})
}

// send encodes msg, checks it as its consumer will (so a bad message is
// refused here, not parked there), and sends it to the queue named by the
// environment variable queueVar.
func send(ctx context.Context, aws awsClients, queueVar string, msg any, check func([]byte) error) error {
	body, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if err := check(body); err != nil {
		return err
	}
	url, err := env(queueVar)
	if err != nil {
		return err
	}
	clients, err := aws()
	if err != nil {
		return err
	}
	return queue.NewPublisher(clients.SQS).Send(ctx, url, body)
}

func cmdSchedule(ctx context.Context, aws awsClients, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("schedule", flag.ContinueOnError)
	sources := fs.String("sources", "", "comma-separated source names (default: every source)")
	from := fs.String("from", "", "first day (YYYY-MM-DD) or time (RFC 3339) of the range")
	to := fs.String("to", "", "end of the range, exclusive (YYYY-MM-DD or RFC 3339)")
	force := fs.Bool("force", false, "rerun inputs that already SUCCEEDED")
	wf := addWaitFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := wf.validate(); err != nil {
		return fmt.Errorf("%s: %w", fs.Name(), err)
	}
	t := contracts.Trigger{V: contracts.Version, Kind: contracts.KindTrigger, Trigger: contracts.TriggerManual, Force: *force}
	if *sources != "" {
		t.Sources = strings.Split(*sources, ",")
	}
	var err error
	if t.From, err = parseTime(*from); err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	if t.To, err = parseTime(*to); err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	cfg, err := loadPipeline()
	if err != nil {
		return err
	}
	// As the scheduler will: unknown sources, too many windows, and a range
	// reaching a window not due yet are refused here.
	check := func(b []byte) error {
		t, err := contracts.DecodeTrigger(b)
		if err != nil {
			return err
		}
		if _, err := cfg.Expand(t.Sources, t.From, t.To, time.Now()); err != nil {
			return fmt.Errorf("nothing sent: %w", err)
		}
		return nil
	}
	var w *waiter
	if *wf.wait {
		// The inputs the scheduler will expand the trigger into, at about
		// its clock (a trigger without a range asks for the windows due then).
		inputs, err := cfg.Expand(t.Sources, t.From, t.To, time.Now())
		if err != nil {
			return fmt.Errorf("nothing sent: %w", err)
		}
		if w, err = newWaiter(ctx, aws, inputs, *force); err != nil {
			return err
		}
	}
	if err := send(ctx, aws, "SLUICE_TRIGGERS_QUEUE_URL", t, check); err != nil {
		return err
	}
	fmt.Fprintln(out, "trigger sent to the scheduler")
	if w != nil {
		return w.wait(ctx, wf, out)
	}
	return nil
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
}

func cmdRuns(ctx context.Context, aws awsClients, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("runs", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: sluicectl runs [--json] [<source>/<window>]\n\nWithout an input: the current run of every input. With one: its run and every attempt.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	store, err := openStore(aws)
	if err != nil {
		return err
	}
	var list []runs.Run
	if input := fs.Arg(0); input != "" {
		cur, err := store.Get(ctx, input)
		if err != nil {
			return err
		}
		if list, err = store.History(ctx, input); err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(out, map[string]any{"run": cur, "attempts": list})
		}
		fmt.Fprintf(out, "%s: %s, attempt %d", cur.Input, cur.Status, cur.Attempt)
		if cur.Status.Live() {
			fmt.Fprintf(out, ", owner %s, lease until %s", cur.Owner, cur.LeaseExpiry().Format(time.RFC3339))
		}
		fmt.Fprintln(out)
		return PrintAttempts(out, list)
	}
	if list, err = store.List(ctx); err != nil {
		return err
	}
	slices.SortFunc(list, func(a, b runs.Run) int { return strings.Compare(a.Input, b.Input) })
	if *asJSON {
		return writeJSON(out, list)
	}
	return PrintRuns(out, list)
}

func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// PrintRuns writes runs as an aligned table.
func PrintRuns(out io.Writer, list []runs.Run) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INPUT\tSTATUS\tATTEMPT\tRECORDS\tOBJECTS\tDURATION\tTRIGGER\tERROR")
	for _, r := range list {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", r.Input, r.Status, r.Attempt, r.Records, r.Objects, duration(r), r.Trigger, grid.Printable(r.LastError))
	}
	return tw.Flush()
}

// PrintAttempts writes an input's attempts as an aligned table.
func PrintAttempts(out io.Writer, list []runs.Run) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ATTEMPT\tSTATUS\tTRIGGER\tOWNER\tCLAIMED\tFINISHED\tBATCHES\tRECORDS\tSCHEMA\tERROR")
	for _, r := range list {
		batches := "-"
		if r.BatchesExpected != nil {
			batches = fmt.Sprintf("%d/%d", len(r.Written), *r.BatchesExpected)
		}
		errText := r.LastError
		if r.ErrorClass != "" {
			errText = r.ErrorClass + ": " + errText
		}
		schema := orDash(r.Schema)
		if r.SchemaChange != "" {
			schema += " (changed from " + r.SchemaChange + ")"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.Attempt, r.Status, r.Trigger, r.Owner, orDash(r.ClaimedAt), orDash(r.FinishedAt), batches, r.Records, schema, grid.Printable(errText))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// cmdRelease ends a stuck run: the operator's way out, made safe.
func cmdRelease(ctx context.Context, aws awsClients, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	force := fs.Bool("force", false, "end the run even though its lease is live (its worker is fenced: its later writes fail)")
	reason := fs.String("reason", "", "why, recorded as the run's error (default: released by <user>)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: sluicectl release [--force] [--reason TEXT] <source>/<window>\n\nMarks a live run FAILED (class released) so the input can be claimed again.\n"+
			"A COMMITTING run is never released: its commit is decided and may publish at any moment.")
		fs.PrintDefaults()
	}
	// Flags may follow the input, as operators type them.
	var input string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		if input != "" {
			return fmt.Errorf("release takes one input, got %q and %q", input, fs.Arg(0))
		}
		input, args = fs.Arg(0), fs.Args()[1:]
	}
	if input == "" {
		fs.Usage()
		return errors.New("release: which input? (<source>/<window>, as `sluicectl runs` shows it)")
	}
	if *reason == "" {
		*reason = "released by " + cmp.Or(os.Getenv("USER"), "an operator")
	}
	store, err := openStore(aws)
	if err != nil {
		return err
	}
	r, err := store.Release(ctx, input, *reason, *force)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "released %s: attempt %d is %s (%s); the next trigger claims it as attempt %d\n", r.Input, r.Attempt, r.Status, grid.Printable(r.LastError), r.Attempt+1)
	return nil
}

func duration(r runs.Run) string {
	start, err1 := time.Parse(time.RFC3339Nano, r.ClaimedAt)
	end, err2 := time.Parse(time.RFC3339Nano, r.FinishedAt)
	if err1 != nil || err2 != nil {
		return "-"
	}
	return end.Sub(start).Round(time.Millisecond).String()
}
