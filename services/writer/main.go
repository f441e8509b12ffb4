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

	"github.com/sluice-data/sluice/shared/awsconf"
	"github.com/sluice-data/sluice/shared/logging"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/service"
	"github.com/sluice-data/sluice/shared/sink"
)

type config struct {
	service.Config
	PipelineFile string `env:"SLUICE_PIPELINE_FILE,required"`
	BatchesURL   string `env:"SLUICE_BATCHES_QUEUE_URL,required"`
	Bucket       string `env:"SLUICE_BUCKET,required"`
	Prefix       string `env:"SLUICE_S3_PREFIX"`
	Runs         runs.Config
}

func main() { service.Main("writer", run) }

func run(ctx context.Context) error {
	var cfg config
	if err := service.Parse(&cfg); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	log, err := logging.New("writer", cfg.LogLevel)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()

	pipe, err := pipeline.Load(cfg.PipelineFile)
	if err != nil {
		return err
	}
	aws, err := awsconf.Load(ctx, log)
	if err != nil {
		return err
	}
	store, err := runs.New(aws.DynamoDB, cfg.Runs)
	if err != nil {
		return err
	}
	h := &handler{pipeline: pipe, runs: store, sink: sink.New(aws.S3, cfg.Bucket, cfg.Prefix)}
	return service.Serve(ctx, cfg.Config, log, aws.SQS, cfg.BatchesURL, h)
}
