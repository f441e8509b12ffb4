package service

import (
	"context"
	"maps"
	"slices"

	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/awsconf"
	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/logging"
	"github.com/sluice-data/sluice/shared/metrics"
	"github.com/sluice-data/sluice/shared/pipeline"
)

// Validator is a service's whole configuration.
type Validator interface{ Validate() error }

// App is what every service builds at start-up, before its own parts.
type App struct {
	Log      *zap.Logger
	Pipeline *pipeline.Config
	AWS      *awsconf.Clients
	// Metrics puts the service's metrics on its log lines, in the
	// configured namespace (SLUICE_METRICS_NAMESPACE).
	Metrics *metrics.Emitter
	cfg     Config
}

// Boot reads cfg (a struct embedding Config, whose address is base) from
// the environment over the defaults — DefaultConfig as each of defaults
// changes it, for a service whose own defaults differ — validates it, and
// builds the logger, the pipeline config and the AWS clients.
func Boot(ctx context.Context, name string, cfg Validator, base *Config, defaults ...func(*Config)) (*App, error) {
	*base = DefaultConfig()
	for _, d := range defaults {
		d(base)
	}
	if err := Parse(cfg); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log, err := logging.New(name, base.LogLevel)
	if err != nil {
		return nil, err
	}
	pipe, err := pipeline.Load(base.PipelineFile)
	if err != nil {
		return nil, err
	}
	clients, err := awsconf.Load(ctx, log)
	if err != nil {
		return nil, err
	}
	return &App{Log: log, Pipeline: pipe, AWS: clients, Metrics: metrics.New(base.MetricsNamespace, name), cfg: *base}, nil
}

// Serve serves h on the queue at queueURL until ctx is cancelled.
func (a *App) Serve(ctx context.Context, queueURL string, h consumer.Handler) error {
	return Serve(ctx, a.cfg, a.Log, a.AWS.SQS, queueURL, h, nil, a.Metrics)
}

// ServeEvents is Serve for a Lambda function that is also invoked
// directly: events other than SQS events go to other.
func (a *App) ServeEvents(ctx context.Context, queueURL string, h consumer.Handler, other consumer.EventHandler) error {
	return Serve(ctx, a.cfg, a.Log, a.AWS.SQS, queueURL, h, other, a.Metrics)
}

// Close logs the AWS requests the process sent, by operation, with the
// SQS requests as billed and their payload bytes, and flushes the logger.
func (a *App) Close() {
	a.Log.Info("aws requests",
		countsDict("requests", a.AWS.Requests.Counts()),
		countsDict("sqs_billed", a.AWS.Requests.SQSBilled()),
		countsDict("sqs_payload_bytes", a.AWS.Requests.SQSPayload()))
	_ = a.Log.Sync()
}

// countsDict is counts as one log field, its keys in order.
func countsDict(name string, counts map[string]int64) zap.Field {
	fields := make([]zap.Field, 0, len(counts))
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		fields = append(fields, zap.Int64(k, counts[k]))
	}
	return zap.Dict(name, fields...)
}
