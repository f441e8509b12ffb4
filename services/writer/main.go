// Command writer stores batches in S3 and commits runs. It reads the
// batches queue, where two kinds of message arrive in any order:
//
//   - Batch: written as one gzip JSON Lines object under a deterministic key
//     (source=<s>/dt=<day>/part-<seq>.jsonl.gz), so a redelivered batch
//     overwrites itself; then the batch number is added to the run's set of
//     written batches.
//   - Done: the run's total of batches, records and bytes.
//
// Whichever message completes the run (all batches written and the total
// known) commits it: stale parts of an earlier try are removed and the run
// is marked SUCCEEDED by a conditional write that only one caller can win.
// Batches of an attempt that is no longer current are dropped unwritten.
package main

import (
	"context"

	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/service"
	"github.com/sluice-data/sluice/shared/sink"
)

type config struct {
	service.Config
	BatchesURL string `env:"SLUICE_BATCHES_QUEUE_URL,required"`
	Bucket     string `env:"SLUICE_BUCKET,required"`
	Prefix     string `env:"SLUICE_S3_PREFIX"`
	Runs       runs.Config
}

func main() { service.Main("writer", run) }

func run(ctx context.Context) error {
	var cfg config
	app, err := service.Boot(ctx, "writer", &cfg, &cfg.Config)
	if err != nil {
		return err
	}
	defer app.Close()

	store, err := runs.New(app.AWS.DynamoDB, cfg.Runs)
	if err != nil {
		return err
	}
	h := &handler{pipeline: app.Pipeline, runs: store, sink: sink.New(app.AWS.S3, cfg.Bucket, cfg.Prefix), maxReceive: cfg.MaxReceive}
	return app.Serve(ctx, cfg.BatchesURL, h)
}
