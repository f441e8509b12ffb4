// Command writer stores batches in S3 and commits runs. It reads the
// batches queue, where two kinds of message arrive in any order:
//
//   - Batch: written once as one gzip JSON Lines object under its
//     attempt's own keys (data/source=<s>/dt=<day>/attempt=<n>/part-<seq>.jsonl.gz),
//     then its number is added to the run's set of written batches — a
//     conditional write that fails for an attempt that is no longer
//     current, whose message is then dropped.
//   - Done: the run's total of batches, records and bytes.
//
// Whichever message completes the run (all batches written and the total
// known) commits it (package commit): one conditional write decides, then
// the attempt's manifest is written and the partition's pointer
// (current/source=<s>/dt=<day>/symlink.txt) moves to it in one atomic PUT.
package main

import (
	"context"
	"time"

	"github.com/sluice-data/sluice/services/writer/commit"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/service"
	"github.com/sluice-data/sluice/shared/sink"
)

type config struct {
	service.Config
	BatchesURL string `env:"SLUICE_BATCHES_QUEUE_URL,required"`
	Bucket     string `env:"SLUICE_BUCKET,required"`
	Prefix     string `env:"SLUICE_S3_PREFIX"`
	Runs       runsEnv
}

// runsEnv maps the run store's variables to the fields of runs.Config.
type runsEnv struct {
	Table string `env:"SLUICE_RUNS_TABLE,required"`
	// Lease: how long a claim or heartbeat keeps the input.
	Lease time.Duration `env:"SLUICE_LEASE" envDefault:"15m"`
	// Heartbeat: how often a working fetcher renews its lease (default: a
	// third of the lease).
	Heartbeat time.Duration `env:"SLUICE_HEARTBEAT"`
	// Retention: how long attempt history items are kept.
	Retention time.Duration `env:"SLUICE_RUN_RETENTION" envDefault:"9600h"`
	// Owner names this worker in run records (default: the Lambda log
	// stream, or host:pid).
	Owner string `env:"SLUICE_OWNER"`
}

func (e runsEnv) config() runs.Config { return runs.Config(e) }

// Validate reports every problem with the run store's variables.
func (e runsEnv) Validate() error { return e.config().Validate() }

func main() { service.Main("writer", run) }

func run(ctx context.Context) error {
	var cfg config
	app, err := service.Boot(ctx, "writer", &cfg, &cfg.Config)
	if err != nil {
		return err
	}
	defer app.Close()

	store, err := runs.New(app.AWS.DynamoDB, cfg.Runs.config())
	if err != nil {
		return err
	}
	objects := sink.New(app.AWS.S3, cfg.Bucket, cfg.Prefix)
	h := &handler{
		pipeline: app.Pipeline,
		runs:     store,
		sink:     objects,
		layout:   objects.Layout,
		commits:  commit.New(store, objects),
	}
	return app.Serve(ctx, cfg.BatchesURL, h)
}
