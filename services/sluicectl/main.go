// Command sluicectl is Sluice's operator tool.
//
//	sluicectl trigger  --source S --window W [--force]   inject one input, as `aws sqs send-message` would
//	sluicectl schedule [--sources a,b] [--from D --to D] [--force]   ask the scheduler for inputs
//	sluicectl runs     [--json] [<input>]                 list the run records, or one input's attempts
//	sluicectl release  [--force] [--reason R] <input>     end a stuck run (refused while its lease is live)
//	sluicectl backfill --source S --from D --to D [--force] [--dry-run]   ask the scheduler for one input per window
//	sluicectl redrive  --queue inputs|fetch|batches|triggers [--max N] [--wait D]   empty a DLQ: move
//	                   triggers and inputs back; re-trigger the runs of fetch and batches messages as
//	                   new inputs, deleting a message only once its input is claimed anew or SUCCEEDED
//	sluicectl schema   <source> [--window W]               print the columns inferred from a published partition
//	                   (default: the latest) as the columns: block to paste into the pipeline config
//
// It reads the same environment as the services (SLUICE_*_QUEUE_URL,
// SLUICE_RUNS_TABLE, SLUICE_PIPELINE_FILE, SLUICE_BUCKET, SLUICE_S3_PREFIX,
// AWS_ENDPOINT_URL_*), and loads
// the AWS config once per run, when a command first needs it. trigger,
// schedule and backfill check what they send against the pipeline config
// as its consumer will, and refuse before sending what it would refuse:
// an unknown source, a window that is not due yet (it has not ended, plus
// the source's partition.lag), one before the source's partition.start.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/awsconf"
)

const usage = `usage: sluicectl <command> [flags]

commands:
  trigger   inject one input message (source + window) into the inputs queue; a window
            that has not ended (plus the source's partition.lag) is refused
  schedule  send a trigger to the scheduler: every source, or --sources, for the latest
            complete window, or every window in --from/--to
  runs      list run records (input, status, attempt, records, objects, duration);
            with an input (source/window), its every attempt: owner, times, batches, error
  backfill  ask the scheduler for one input per window of a source in --from/--to (end
            exclusive), the windows of the source's partition (day or hour); --dry-run
            prints them
  release   end a stuck run so its input can be claimed again (refused while the lease
            is live unless --force)
  redrive   empty a queue's DLQ: triggers and inputs move back to their queue; for fetch
            and batches, each run (source + window) is re-triggered as one new input, and a
            message is deleted only once its input is claimed anew or SUCCEEDED (one still
            held by a live lease keeps its messages, and redrive says until when)
  schema    print the columns inferred from the records of a source's latest published
            partition (or --window's), as the columns: block to paste under its output

Run 'sluicectl <command> -h' for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "sluicectl:", err)
		}
		stop()
		os.Exit(exitCode(err))
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return flag.ErrHelp
	}
	cmds := map[string]command{
		"trigger":  cmdTrigger,
		"schedule": cmdSchedule,
		"runs":     cmdRuns,
		"release":  cmdRelease,
		"backfill": cmdBackfill,
		"redrive":  cmdRedrive,
		"schema":   cmdSchema,
		"status":   cmdStatus,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
	clients := sync.OnceValues(func() (*awsconf.Clients, error) { return awsconf.Load(ctx, zap.NewNop()) })
	return cmd(ctx, clients, args[1:], out)
}

// A command runs one sluicectl command with its arguments.
type command func(ctx context.Context, aws awsClients, args []string, out io.Writer) error

// awsClients returns the AWS clients of one sluicectl run: the config is
// loaded on the first call, when a command first needs AWS, and only then.
type awsClients func() (*awsconf.Clients, error)
