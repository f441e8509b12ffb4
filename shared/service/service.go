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
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/caarlos0/env/v11"
	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/consumer"
)

// Transports.
const (
	TransportLambda = "lambda"
	TransportPoll   = "poll"
)

// Config is the configuration every consuming service reads. See the
// README's configuration reference.
type Config struct {
	PipelineFile  string        `env:"SLUICE_PIPELINE_FILE,required"`
	LogLevel      string        `env:"SLUICE_LOG_LEVEL" envDefault:"info"`
	Transport     string        `env:"SLUICE_TRANSPORT"`
	Workers       int           `env:"SLUICE_WORKERS" envDefault:"5"`
	DLQURL        string        `env:"SLUICE_DLQ_URL"`
	MaxReceive    int           `env:"SLUICE_MAX_RECEIVE" envDefault:"5"`
	Visibility    time.Duration `env:"SLUICE_VISIBILITY" envDefault:"60s"`
	PollWait      time.Duration `env:"SLUICE_POLL_WAIT" envDefault:"20s"`
	RetryBase     time.Duration `env:"SLUICE_RETRY_BASE" envDefault:"2s"`
	RetryMax      time.Duration `env:"SLUICE_RETRY_MAX" envDefault:"5m"`
	ShutdownGrace time.Duration `env:"SLUICE_SHUTDOWN_GRACE" envDefault:"30s"`
}

// Parse reads v (a struct with env tags, such as one embedding Config) from
// the environment. Validation is the caller's.
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

// Validate reports every problem with c at once.
func (c *Config) Validate() error {
	var errs []error
	if c.Transport == "" {
		c.Transport = TransportPoll
		if os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" {
			c.Transport = TransportLambda
		}
	}
	if c.Transport != TransportLambda && c.Transport != TransportPoll {
		errs = append(errs, fmt.Errorf("SLUICE_TRANSPORT: %q, want %s or %s", c.Transport, TransportLambda, TransportPoll))
	}
	if c.Workers < 1 || c.Workers > 100 {
		errs = append(errs, fmt.Errorf("SLUICE_WORKERS: %d, want 1..100", c.Workers))
	}
	if c.DLQURL == "" {
		errs = append(errs, errors.New("SLUICE_DLQ_URL: required (permanent failures are parked there)"))
	}
	if c.MaxReceive < 1 {
		errs = append(errs, fmt.Errorf("SLUICE_MAX_RECEIVE: %d, want >= 1 (the queue's maxReceiveCount)", c.MaxReceive))
	}
	if c.Visibility < 2*time.Second || c.Visibility > 12*time.Hour {
		errs = append(errs, fmt.Errorf("SLUICE_VISIBILITY: %v, want 2s..12h", c.Visibility))
	}
	if c.PollWait < 0 || c.PollWait > 20*time.Second {
		errs = append(errs, fmt.Errorf("SLUICE_POLL_WAIT: %v, want 0..20s", c.PollWait))
	}
	if c.RetryBase < 0 || c.RetryMax < c.RetryBase {
		errs = append(errs, fmt.Errorf("SLUICE_RETRY_BASE %v / SLUICE_RETRY_MAX %v: want 0 <= base <= max", c.RetryBase, c.RetryMax))
	}
	return errors.Join(errs...)
}

// Main runs a service: run gets a context cancelled on SIGTERM or SIGINT.
// An error from run is printed once and the process exits 1.
func Main(name string, run func(ctx context.Context) error) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		stop()
		os.Exit(1)
	}
}

// Serve serves h on the queue at queueURL with the configured transport
// until ctx is cancelled (poll) or forever (lambda).
func Serve(ctx context.Context, c Config, log *zap.Logger, api consumer.SQSAPI, queueURL string, h consumer.Handler) error {
	q := &consumer.Queue{API: api, URL: queueURL, DLQURL: c.DLQURL, RetryBase: c.RetryBase, RetryMax: c.RetryMax}
	switch c.Transport {
	case TransportLambda:
		log.Info("serving SQS events on Lambda", zap.String("queue", queueURL))
		lambda.StartWithOptions(consumer.Lambda(log, h, q, c.Workers), lambda.WithContext(ctx))
		return nil
	default:
		log.Info("polling", zap.String("queue", queueURL), zap.Int("workers", c.Workers))
		p := consumer.NewPoller(q, consumer.PollerConfig{
			Workers: c.Workers, WaitTime: c.PollWait, Visibility: c.Visibility, ShutdownGrace: c.ShutdownGrace,
		}, log, h)
		err := p.Run(ctx)
		log.Info("stopped")
		return err
	}
}
