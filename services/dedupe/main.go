// Command dedupe claims each input before any work starts on it. It reads
// Input messages from the inputs queue, claims the input in the runs table
// with a conditional write carrying a lease, and forwards only the inputs
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
)

type config struct {
	service.Config
	InputsURL string `env:"SLUICE_INPUTS_QUEUE_URL,required"`
	FetchURL  string `env:"SLUICE_FETCH_QUEUE_URL,required"`
	Runs      runsEnv
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

func main() { service.Main("dedupe", run) }

func run(ctx context.Context) error {
	var cfg config
	app, err := service.Boot(ctx, "dedupe", &cfg, &cfg.Config)
	if err != nil {
		return err
	}
	defer app.Close()

	store, err := runs.New(app.AWS.DynamoDB, cfg.Runs.config())
	if err != nil {
		return err
	}
	h := &handler{pipeline: app.Pipeline, runs: store, out: queue.NewPublisher(app.AWS.SQS), fetchURL: cfg.FetchURL, now: time.Now}
	return app.Serve(ctx, cfg.InputsURL, h)
}
