package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/awsconf"
	"github.com/sluice-data/sluice/shared/contracts"
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

func cmdTrigger(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("trigger", flag.ContinueOnError)
	src := fs.String("source", "", "source name from the pipeline config (required)")
	window := fs.String("window", "", "partition window key, e.g. 2026-11-01 or 2026-11-01T13 (required)")
	force := fs.Bool("force", false, "rerun even if the input already SUCCEEDED")
	if err := fs.Parse(args); err != nil {
		return err
	}
	in := contracts.NewInput(*src, *window, contracts.TriggerManual, *force)
	if err := send(ctx, "SLUICE_INPUTS_QUEUE_URL", in, func(b []byte) error { _, err := contracts.DecodeInput(b); return err }); err != nil {
		return err
	}
	fmt.Fprintf(out, "triggered %s\n", in.Key())
	return nil
}

// send encodes msg, checks it as its consumer will (so a bad message is
// refused here, not parked there), and sends it to the queue named by the
// environment variable queueVar.
func send(ctx context.Context, queueVar string, msg any, check func([]byte) error) error {
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
	clients, err := awsconf.Load(ctx, zap.NewNop())
	if err != nil {
		return err
	}
	return queue.NewPublisher(clients.SQS).Send(ctx, url, body)
}

func cmdSchedule(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("schedule", flag.ContinueOnError)
	sources := fs.String("sources", "", "comma-separated source names (default: every source)")
	from := fs.String("from", "", "first day (YYYY-MM-DD) or time (RFC 3339) of the range")
	to := fs.String("to", "", "end of the range, exclusive (YYYY-MM-DD or RFC 3339)")
	force := fs.Bool("force", false, "rerun inputs that already SUCCEEDED")
	if err := fs.Parse(args); err != nil {
		return err
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
	if err := send(ctx, "SLUICE_TRIGGERS_QUEUE_URL", t, func(b []byte) error { _, err := contracts.DecodeTrigger(b); return err }); err != nil {
		return err
	}
	fmt.Fprintln(out, "trigger sent to the scheduler")
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

func cmdRuns(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("runs", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if err := fs.Parse(args); err != nil {
		return err
	}
	table, err := env("SLUICE_RUNS_TABLE")
	if err != nil {
		return err
	}
	clients, err := awsconf.Load(ctx, zap.NewNop())
	if err != nil {
		return err
	}
	store, err := runs.New(clients.DynamoDB, runs.Config{Table: table})
	if err != nil {
		return err
	}
	list, err := store.List(ctx)
	if err != nil {
		return err
	}
	slices.SortFunc(list, func(a, b runs.Run) int { return strings.Compare(a.Input, b.Input) })
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	return PrintRuns(out, list)
}

// PrintRuns writes runs as an aligned table.
func PrintRuns(out io.Writer, list []runs.Run) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INPUT\tSTATUS\tATTEMPT\tRECORDS\tOBJECTS\tDURATION\tTRIGGER\tERROR")
	for _, r := range list {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", r.Input, r.Status, r.Attempt, r.Records, r.Objects, duration(r), r.Trigger, r.LastError)
	}
	return tw.Flush()
}

func duration(r runs.Run) string {
	start, err1 := time.Parse(time.RFC3339Nano, r.ClaimedAt)
	end, err2 := time.Parse(time.RFC3339Nano, r.FinishedAt)
	if err1 != nil || err2 != nil {
		return "-"
	}
	return end.Sub(start).Round(time.Millisecond).String()
}
