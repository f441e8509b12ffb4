package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/awsconf"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/queue"
)

// maxBackfill bounds one backfill, as the scheduler bounds one trigger: a
// typo in a year should not enqueue a century of hours.
const maxBackfill = 10000

// cmdBackfill enqueues one input per window of a source in a range: the
// windows are the source's own (day or hour), taken from the pipeline
// config, so every input is one the pipeline would have scheduled.
func cmdBackfill(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("backfill", flag.ContinueOnError)
	src := fs.String("source", "", "source name from the pipeline config (required)")
	from := fs.String("from", "", "first day (YYYY-MM-DD) or time (RFC 3339) (required)")
	to := fs.String("to", "", "end of the range, exclusive (YYYY-MM-DD or RFC 3339) (required)")
	force := fs.Bool("force", false, "rerun windows that already SUCCEEDED")
	dryRun := fs.Bool("dry-run", false, "print the windows, send nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *src == "" || *from == "" || *to == "" {
		return errors.New("backfill: --source, --from and --to are required")
	}
	start, err := parseTime(*from)
	if err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	end, err := parseTime(*to)
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	if !end.After(start) {
		return fmt.Errorf("backfill: --to %s is not after --from %s", *to, *from)
	}
	file, err := env("SLUICE_PIPELINE_FILE")
	if err != nil {
		return err
	}
	cfg, err := pipeline.Load(file)
	if err != nil {
		return err
	}
	source, ok := cfg.Source(*src)
	if !ok {
		return fmt.Errorf("backfill: unknown source %q (not in %s)", *src, file)
	}
	windows := source.Partition.Windows(start, end)
	if len(windows) > maxBackfill {
		return fmt.Errorf("backfill: %d windows of %s in that range, more than %d; split it", len(windows), source.Partition.Every, maxBackfill)
	}
	bodies := make([][]byte, 0, len(windows))
	for _, w := range windows {
		in := contracts.NewInput(*src, source.Partition.Key(w), contracts.TriggerBackfill, *force)
		body, err := json.Marshal(in)
		if err != nil {
			return err
		}
		if _, err := contracts.DecodeInput(body); err != nil {
			return err
		}
		bodies = append(bodies, body)
		if *dryRun {
			fmt.Fprintln(out, in.Key())
		}
	}
	if *dryRun {
		fmt.Fprintf(out, "%d windows; nothing sent (--dry-run)\n", len(windows))
		return nil
	}
	url, err := env("SLUICE_INPUTS_QUEUE_URL")
	if err != nil {
		return err
	}
	clients, err := awsconf.Load(ctx, zap.NewNop())
	if err != nil {
		return err
	}
	if err := queue.NewPublisher(clients.SQS).SendBatch(ctx, url, bodies); err != nil {
		return err
	}
	fmt.Fprintf(out, "backfill of %s: %d inputs sent (%s … %s)\n", *src, len(windows),
		source.Partition.Key(windows[0]), source.Partition.Key(windows[len(windows)-1]))
	return nil
}
