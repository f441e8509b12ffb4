// Command dedupe claims each input before any work starts on it. It reads
// Input messages from the inputs queue, claims the input in the runs table
// with a conditional write carrying a lease, and forwards only the inputs
// it won to the fetch queue. Duplicate triggers of an input that is running
// or done lose the claim and are dropped (logged, not retried, not parked).
//
// It runs as a Lambda function (SQS event source with partial batch
// responses) or, locally and in containers, as a long-polling worker.
package main

import (
	"context"

	"github.com/sluice-data/sluice/shared/awsconf"
	"github.com/sluice-data/sluice/shared/logging"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/queue"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/service"
)

type config struct {
	service.Config
	PipelineFile string `env:"SLUICE_PIPELINE_FILE,required"`
	InputsURL    string `env:"SLUICE_INPUTS_QUEUE_URL,required"`
	FetchURL     string `env:"SLUICE_FETCH_QUEUE_URL,required"`
	Runs         runs.Config
}

func main() { service.Main("dedupe", run) }

func run(ctx context.Context) error {
	var cfg config
	if err := service.Parse(&cfg); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log, err := logging.New("dedupe", cfg.LogLevel)
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
	h := &handler{pipeline: pipe, runs: store, out: queue.NewPublisher(aws.SQS), fetchURL: cfg.FetchURL}
	return service.Serve(ctx, cfg.Config, log, aws.SQS, cfg.InputsURL, h)
}
