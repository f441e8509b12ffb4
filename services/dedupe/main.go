// Command dedupe claims each input before any work starts on it. It reads
// Input messages from the inputs queue, claims the input in the runs table
// with a conditional write carrying a lease — numbered above every attempt
// the bucket already holds for the input — and forwards only the inputs
// it won to the fetch queue. Duplicate triggers of an input that is running
// or done lose the claim and are dropped (logged, not retried, not parked).
// An input of a window that is not due yet (it has not ended, plus the
// source's partition.lag) or that is before the source's partition.start
// is refused permanently and parked with the reason: fetched early, it
// would be marked done with part of its data.
//
// It runs as a Lambda function (SQS event source with partial batch
// responses) or, locally and in containers, as a long-polling worker.
package main

import (
	"context"
	"time"

	"github.com/sluice-data/sluice/shared/queue"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/service"
	"github.com/sluice-data/sluice/shared/sink"
)

type config struct {
	service.Config
	InputsURL string `env:"SLUICE_INPUTS_QUEUE_URL,required"`
	FetchURL  string `env:"SLUICE_FETCH_QUEUE_URL,required"`
	// The writer's bucket and key prefix: the claim reads the attempts
	// already there (one HEAD and one LIST per input message).
	Bucket string `env:"SLUICE_BUCKET,required"`
	Prefix string `env:"SLUICE_S3_PREFIX"`
	Runs   service.RunsEnv
}

func main() { service.Main("dedupe", run) }

func run(ctx context.Context) error {
	var cfg config
	app, err := service.Boot(ctx, "dedupe", &cfg, &cfg.Config)
	if err != nil {
		return err
	}
	defer app.Close()

	store, err := runs.New(app.AWS.DynamoDB, cfg.Runs.Config())
	if err != nil {
		return err
	}
	h := &handler{
		pipeline: app.Pipeline, runs: store, floors: sink.New(app.AWS.S3, cfg.Bucket, cfg.Prefix),
		out: queue.NewPublisher(app.AWS.SQS), fetchURL: cfg.FetchURL, now: time.Now,
		metrics: app.Metrics,
	}
	return app.Serve(ctx, cfg.InputsURL, h)
}
