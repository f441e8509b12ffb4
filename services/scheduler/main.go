// Command scheduler turns a trigger into inputs: one Input message per
// source × partition window of the pipeline config, published to the
// inputs queue with SendMessageBatch.
//
// Triggers come from an EventBridge schedule (the Lambda is invoked with
// the scheduled event, and covers the latest complete window of every
// source), or from Trigger messages on the triggers queue (sent by
// `sluicectl schedule`, or by hand), which may name sources and a range of
// windows. Locally the triggers queue is long-polled.
//
// The scheduler also runs the sweep (package sweep): runs whose worker
// died are taken up again, and DLQ messages that no longer need a person
// are deleted or given their reason. On Lambda an EventBridge rule invokes
// it (the sweep event, see HandleEvent); as a poller it runs every
// SLUICE_SWEEP_EVERY (0: never).
package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/sluice-data/sluice/services/scheduler/sweep"
	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/queue"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/service"
)

type config struct {
	service.Config
	TriggersURL string `env:"SLUICE_TRIGGERS_QUEUE_URL,required"`
	InputsURL   string `env:"SLUICE_INPUTS_QUEUE_URL,required"`
	// The sweep: the runs table (and the lease the other services use),
	// the DLQs it reconciles, how often it runs as a poller, its grace past
	// a lease's expiry, and the take-up budget of a run.
	Runs          service.RunsEnv
	InputsDLQURL  string        `env:"SLUICE_INPUTS_DLQ_URL,required"`
	FetchDLQURL   string        `env:"SLUICE_FETCH_DLQ_URL,required"`
	BatchesDLQURL string        `env:"SLUICE_BATCHES_DLQ_URL,required"`
	SweepEvery    time.Duration `env:"SLUICE_SWEEP_EVERY" envDefault:"1m"`
	SweepGrace    time.Duration `env:"SLUICE_SWEEP_GRACE" envDefault:"30s"`
	MaxTakeUps    int           `env:"SLUICE_MAX_TAKEUPS" envDefault:"3"`
	// ScheduleInterval is the longest gap between the scheduled trigger's
	// fires (Terraform's schedule_interval), which freshness allows on top
	// of partition.lag and a window.
	ScheduleInterval time.Duration `env:"SLUICE_SCHEDULE_INTERVAL" envDefault:"24h"`
}

// Validate reports every problem with c at once; the sweep's own values
// (grace, budget) are checked by sweep.New.
func (c *config) Validate() error {
	errs := []error{c.Config.Validate()}
	if c.SweepEvery < 0 {
		errs = append(errs, fmt.Errorf("SLUICE_SWEEP_EVERY: %v must not be negative (0: never)", c.SweepEvery))
	}
	return errors.Join(errs...)
}

func main() { service.Main("scheduler", run) }

func run(ctx context.Context) error {
	var cfg config
	app, err := service.Boot(ctx, "scheduler", &cfg, &cfg.Config)
	if err != nil {
		return err
	}
	defer app.Close()

	store, err := runs.New(app.AWS.DynamoDB, cfg.Runs.Config())
	if err != nil {
		return err
	}
	out := queue.NewPublisher(app.AWS.SQS)
	dlq := func(url string, inputs bool) sweep.DLQ {
		return sweep.DLQ{Inputs: inputs, URL: url, Queue: &consumer.Queue{API: app.AWS.SQS, URL: url, DLQURL: url}}
	}
	sw, err := sweep.New(store, out, []sweep.DLQ{dlq(cfg.InputsDLQURL, true), dlq(cfg.FetchDLQURL, false), dlq(cfg.BatchesDLQURL, false)},
		sweep.Config{InputsURL: cfg.InputsURL, Grace: cfg.SweepGrace, MaxTakeUps: cfg.MaxTakeUps, Metrics: app.Metrics})
	if err != nil {
		return err
	}
	h := &handler{pipeline: app.Pipeline, out: out, inputsURL: cfg.InputsURL, now: time.Now, sweep: sw, latest: store, metrics: app.Metrics,
		scheduleEvery: cfg.ScheduleInterval}
	if cfg.TransportOf() != service.TransportLambda {
		app.Log.Info("scheduled triggers come from EventBridge on AWS; locally, send them with `sluicectl schedule`", zap.String("queue", cfg.TriggersURL))
		if cfg.SweepEvery > 0 {
			go sweepEvery(ctx, app.Log, h, cfg.SweepEvery)
		}
	}
	// Besides SQS events from the triggers queue, the Lambda takes
	// EventBridge events directly: schedules and the sweep.
	return app.ServeEvents(ctx, cfg.TriggersURL, h, h.HandleEvent)
}
