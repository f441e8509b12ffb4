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

	"github.com/aws/aws-lambda-go/lambda"
	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/awsconf"
	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/logging"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/queue"
	"github.com/sluice-data/sluice/shared/service"
)

type config struct {
	service.Config
	PipelineFile string `env:"SLUICE_PIPELINE_FILE,required"`
	TriggersURL  string `env:"SLUICE_TRIGGERS_QUEUE_URL,required"`
	InputsURL    string `env:"SLUICE_INPUTS_QUEUE_URL,required"`
}

func main() { service.Main("scheduler", run) }

func run(ctx context.Context) error {
	var cfg config
	if err := service.Parse(&cfg); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log, err := logging.New("scheduler", cfg.LogLevel)
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
	h := &handler{pipeline: pipe, out: queue.NewPublisher(aws.SQS), inputsURL: cfg.InputsURL, now: time.Now}

	if cfg.Transport == service.TransportLambda {
		q := &consumer.Queue{API: aws.SQS, URL: cfg.TriggersURL, DLQURL: cfg.DLQURL, RetryBase: cfg.RetryBase, RetryMax: cfg.RetryMax}
		log.Info("serving EventBridge and SQS events on Lambda")
		lambda.StartWithOptions(lambdaHandler(log, h, consumer.Lambda(log, h, q, cfg.Workers)), lambda.WithContext(ctx))
		return nil
	}
	log.Info("scheduled triggers come from EventBridge on AWS; locally, send them with `sluicectl schedule`", zap.String("queue", cfg.TriggersURL))
	return service.Serve(ctx, cfg.Config, log, aws.SQS, cfg.TriggersURL, h)
}
