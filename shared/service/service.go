// Package service is the bootstrap every Sluice service shares: reading the
// common configuration from the environment, building the logger, handling
// SIGTERM, and serving one consumer.Handler behind the transport the
// environment asks for — the Lambda SQS event source, or the local
// long-polling loop.
package service

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"reflect"
	"strings"
	"syscall"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/caarlos0/env/v11"
	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/metrics"
	"github.com/sluice-data/sluice/shared/profiling"
)

// Transports.
const (
	TransportLambda = "lambda"
	TransportPoll   = "poll"
)

// Config is the configuration every consuming service reads. See the
// README's configuration reference. The consumer's part has its defaults
// in consumer.DefaultConfig; DefaultConfig sets them before the
// environment is read.
type Config struct {
	PipelineFile string `env:"SLUICE_PIPELINE_FILE,required"`
	LogLevel     string `env:"SLUICE_LOG_LEVEL" envDefault:"info"`
	// Transport is lambda or poll; empty, the one the process runs on
	// (see TransportOf).
	Transport string `env:"SLUICE_TRANSPORT"`
	// MetricsNamespace is the CloudWatch namespace of the metrics the
	// service's log lines carry (package metrics).
	MetricsNamespace string `env:"SLUICE_METRICS_NAMESPACE" envDefault:"Sluice"`
	consumer.Config
}

// DefaultConfig returns a Config with the consumer's defaults.
func DefaultConfig() Config {
	return Config{MetricsNamespace: metrics.DefaultNamespace, Config: consumer.DefaultConfig()}
}

// TransportOf returns the transport c asks for: SLUICE_TRANSPORT, or when
// unset, lambda on Lambda and poll elsewhere.
func (c Config) TransportOf() string {
	if c.Transport != "" {
		return c.Transport
	}
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" {
		return TransportLambda
	}
	return TransportPoll
}

// Parse reads v (a struct with env tags, such as one embedding Config) from
// the environment. Variables that are unset leave their field as it is
// (or set it to its envDefault tag), so defaults are set before Parse.
// Validation is the caller's.
func Parse(v any) error {
	err := env.Parse(v)
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		if err != nil {
			return fmt.Errorf("config: %w", err)
		}
		return nil
	}
	// Name the variable, not the Go field, in each problem.
	vars := envNames(reflect.TypeOf(v))
	errs := make([]error, 0, len(agg.Errors))
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) && vars[pe.Name] != "" {
			errs = append(errs, fmt.Errorf("%s: %w", vars[pe.Name], pe.Err))
			continue
		}
		errs = append(errs, e)
	}
	return fmt.Errorf("config: %w", errors.Join(errs...))
}

// envNames maps struct field names to their env variable names, through
// nested structs.
func envNames(t reflect.Type) map[string]string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	out := map[string]string{}
	if t.Kind() != reflect.Struct {
		return out
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if tag, ok := f.Tag.Lookup("env"); ok {
			out[f.Name] = strings.Split(tag, ",")[0]
		} else if f.Type.Kind() == reflect.Struct {
			maps.Copy(out, envNames(f.Type))
		}
	}
	return out
}

// Validate reports every problem with c at once. It does not change c.
func (c *Config) Validate() error {
	var errs []error
	if c.Transport != "" && c.Transport != TransportLambda && c.Transport != TransportPoll {
		errs = append(errs, fmt.Errorf("SLUICE_TRANSPORT: %q, want %s or %s", c.Transport, TransportLambda, TransportPoll))
	}
	if n := len(c.MetricsNamespace); n == 0 || n > 255 || strings.HasPrefix(c.MetricsNamespace, "AWS/") {
		errs = append(errs, fmt.Errorf("SLUICE_METRICS_NAMESPACE: %q, want 1..255 characters, not starting with AWS/", c.MetricsNamespace))
	}
	return errors.Join(append(errs, c.Config.Validate())...)
}

// Main runs a service: run gets a context cancelled on SIGTERM or SIGINT.
// An error from run is printed once and the process exits 1. On Lambda,
// where run only ever returns an error it met while starting (the Lambda
// transport serves until the process ends), the error is also reported to
// the Runtime API as the function's init error (see reportInitError).
//
// With SLUICE_PPROF_DIR set, the process is profiled from start to exit
// (see package profiling): off by default, for the benchmark.
func Main(name string, run func(ctx context.Context) error) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	stopProfile, err := profiling.Start(os.Getenv(profiling.EnvDir), name)
	if err == nil {
		err = run(ctx)
		if perr := stopProfile(); err == nil {
			err = perr
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		if api := os.Getenv("AWS_LAMBDA_RUNTIME_API"); api != "" {
			if rerr := reportInitError(context.WithoutCancel(ctx), api, fmt.Errorf("%s: %w", name, err)); rerr != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", name, rerr)
			}
		}
		stop()
		os.Exit(1)
	}
}

// Serve serves h on the queue at queueURL with the configured transport
// until ctx is cancelled (poll) or forever (lambda), behind the GiveUp
// middleware. On Lambda, events other than SQS events go to other (nil:
// the function is only an SQS event source); the poller ignores it. Each
// batch's line carries the service's message metrics (em; nil: none).
func Serve(ctx context.Context, c Config, log *zap.Logger, api consumer.SQSAPI, queueURL string, h consumer.Handler, other consumer.EventHandler, em *metrics.Emitter) error {
	q := consumer.NewQueue(ctx, log, api, queueURL, c.Config)
	h = consumer.GiveUp(h)
	switch c.TransportOf() {
	case TransportLambda:
		log.Info("serving SQS events on Lambda", zap.String("queue", queueURL), zap.Int("max_receive", q.MaxReceive),
			zap.Bool("other_events", other != nil))
		sqs := consumer.Lambda(log, h, q, c.Workers, q.MaxReceive, c.Visibility, em)
		if other == nil {
			lambda.StartWithOptions(sqs, lambda.WithContext(ctx))
		} else {
			lambda.StartWithOptions(consumer.LambdaEvents(log, sqs, other), lambda.WithContext(ctx))
		}
		return nil
	default:
		log.Info("polling", zap.String("queue", queueURL), zap.Int("workers", c.Workers), zap.Int("max_receive", q.MaxReceive))
		err := consumer.NewPoller(q, c.Config, log, h, em).Run(ctx)
		log.Info("stopped")
		return err
	}
}
