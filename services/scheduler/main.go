// Command scheduler turns a trigger into inputs: one Input message per
// source × partition window of the pipeline config, published to the
// inputs queue with SendMessageBatch.
//
// Triggers come from an EventBridge schedule (the Lambda is invoked with
// the scheduled event, and covers the latest complete window of every
// source), or from Trigger messages on the triggers queue (sent by
// `sluicectl schedule`, or by hand), which may name sources and a range of
// windows. Locally the triggers queue is long-polled.
package main

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/queue"
	"github.com/sluice-data/sluice/shared/service"
)

type config struct {
	service.Config
	TriggersURL string `env:"SLUICE_TRIGGERS_QUEUE_URL,required"`
	InputsURL   string `env:"SLUICE_INPUTS_QUEUE_URL,required"`
}

func main() { service.Main("scheduler", run) }

func run(ctx context.Context) error {
	var cfg config
	app, err := service.Boot(ctx, "scheduler", &cfg, &cfg.Config)
	if err != nil {
		return err
	}
	defer app.Close()

	h := &handler{pipeline: app.Pipeline, out: queue.NewPublisher(app.AWS.SQS), inputsURL: cfg.InputsURL, now: time.Now}
	if cfg.TransportOf() != service.TransportLambda {
		app.Log.Info("scheduled triggers come from EventBridge on AWS; locally, send them with `sluicectl schedule`", zap.String("queue", cfg.TriggersURL))
	}
	// Besides SQS events from the triggers queue, the Lambda takes
	// EventBridge events directly.
	return app.ServeEvents(ctx, cfg.TriggersURL, h, h.HandleEvent)
}
