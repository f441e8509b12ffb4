package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/sluice-data/sluice/shared/contracts"
)

// cmdBackfill asks the scheduler for one input per window of a source in a
// range: it sends a backfill Trigger with that range, which the scheduler
// expands into the source's own windows (day or hour), as it would have
// scheduled them. The inputs are first worked out here by the same
// expansion (pipeline.Config.Expand), under the same bounds, so that a
// range the scheduler would refuse (too many windows, a window not due
// yet, one before the source's partition.start) is refused before anything
// is sent, and so that --dry-run can print them, and --wait wait for them.
func cmdBackfill(ctx context.Context, aws awsClients, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("backfill", flag.ContinueOnError)
	src := fs.String("source", "", "source name from the pipeline config (required)")
	from := fs.String("from", "", "first day (YYYY-MM-DD) or time (RFC 3339) (required)")
	to := fs.String("to", "", "end of the range, exclusive (YYYY-MM-DD or RFC 3339) (required)")
	force := fs.Bool("force", false, "rerun windows that already SUCCEEDED")
	dryRun := fs.Bool("dry-run", false, "print the windows, send nothing")
	wf := addWaitFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := wf.validate(); err != nil {
		return fmt.Errorf("%s: %w", fs.Name(), err)
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
	cfg, err := loadPipeline()
	if err != nil {
		return err
	}
	t := contracts.Trigger{V: contracts.Version, Kind: contracts.KindTrigger, Sources: []string{*src},
		From: start, To: end, Trigger: contracts.TriggerBackfill, Force: *force}
	inputs, err := cfg.Expand(t.Sources, t.From, t.To, time.Now())
	if err != nil {
		return fmt.Errorf("backfill (%s): nothing sent: %w", cfg.File, err)
	}
	if *dryRun {
		for _, in := range inputs {
			fmt.Fprintln(out, contracts.InputKey(in.Source, in.Window))
		}
		fmt.Fprintf(out, "%d windows; nothing sent (--dry-run)\n", len(inputs))
		return nil
	}
	var w *waiter
	if *wf.wait {
		if w, err = newWaiter(ctx, aws, inputs, *force); err != nil {
			return err
		}
	}
	if err := send(ctx, aws, "SLUICE_TRIGGERS_QUEUE_URL", t, func(b []byte) error { _, err := contracts.DecodeTrigger(b); return err }); err != nil {
		return err
	}
	fmt.Fprintf(out, "backfill of %s: trigger sent to the scheduler for %d inputs (%s … %s)\n", *src, len(inputs),
		inputs[0].Window, inputs[len(inputs)-1].Window)
	if w != nil {
		return w.wait(ctx, wf, out)
	}
	return nil
}
