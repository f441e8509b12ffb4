// Command fetcher pages through a source's HTTP API for one claimed input.
// It reads Fetch messages from the fetch queue, marks the run RUNNING,
// passes the records through as raw JSON into batches of up to one SQS
// message (1 MiB, packed by bytes), sends them to the batches queue with the
// run id, attempt and sequence number, renews the run's lease while it
// works, and ends with a Done message that tells the writer how many
// batches the run produced.
//
// A fetch that would outlive its invocation (Lambda's 15 minutes) hands
// over: it checkpoints its page state in the run record and sends itself a
// continuation message (the same run, the next hop), which a new
// invocation picks up where it stopped. The message never carries the
// page state, so no message can make the fetcher call another URL. The
// checkpoint carries the fingerprint of the source's config; a
// continuation that finds another config (a deploy between hops) restarts
// the fetch from the first page as the next attempt, never mixing two
// configs in one attempt.
//
// A retryable error of the source (a Retry-After longer than
// retry.max_retry_after, failures past retry.max_attempts, a page that
// runs into the deadline) stops the walk without losing its progress: the
// page it stopped on is checkpointed as in a hand-over, and the
// continuation comes back after the API's wait as the same attempt.
// SLUICE_MAX_STOPS stops in a row without a new page fail the run.
//
// A permanent error (HTTP 4xx, bad response shape) marks the run FAILED at
// once and parks the message in the DLQ; any other retryable one is
// retried by the queue, and the last receive before the DLQ marks the run
// FAILED too, so the input is free for the next trigger.
package main

import (
	"context"
	"net/http"
	"time"

	"github.com/sluice-data/sluice/shared/auth"
	"github.com/sluice-data/sluice/shared/queue"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/secrets"
	"github.com/sluice-data/sluice/shared/service"
	"github.com/sluice-data/sluice/shared/source"
)

type config struct {
	service.Config
	FetchURL        string `env:"SLUICE_FETCH_QUEUE_URL,required"`
	BatchesURL      string `env:"SLUICE_BATCHES_QUEUE_URL,required"`
	MaxMessageBytes int    `env:"SLUICE_MAX_MESSAGE_BYTES" envDefault:"1048576"`
	// HandoffMargin: hand a fetch over to a new invocation when less than
	// this is left before the invocation's deadline.
	HandoffMargin time.Duration `env:"SLUICE_HANDOFF_MARGIN" envDefault:"2m"`
	// HandoffAfter: hand over after this long in one invocation (0: only
	// near the deadline).
	HandoffAfter time.Duration `env:"SLUICE_HANDOFF_AFTER" envDefault:"0s"`
	// MaxStops: an attempt whose source stops it (a retryable error that
	// ends a try) this many times in a row without a new page fails.
	MaxStops int `env:"SLUICE_MAX_STOPS" envDefault:"10"`
	// StopBackoff: the wait after the first such stop that came without a
	// Retry-After, doubling per stop up to SQS's 15 minutes.
	StopBackoff time.Duration `env:"SLUICE_STOP_BACKOFF" envDefault:"30s"`
	Runs        service.RunsEnv
}

func main() { service.Main("fetcher", run) }

func run(ctx context.Context) error {
	var cfg config
	app, err := service.Boot(ctx, "fetcher", &cfg, &cfg.Config)
	if err != nil {
		return err
	}
	defer app.Close()

	store, err := runs.New(app.AWS.DynamoDB, cfg.Runs.Config())
	if err != nil {
		return err
	}
	// Up to SLUICE_WORKERS walks at once, each with up to its source's
	// pagination.concurrency requests in flight: the pool keeps them all.
	httpClient := &http.Client{Transport: source.NewTransport(cfg.Workers, app.Pipeline)}
	// Every secret the sources' auth needs is read now: a missing one stops
	// the fetcher at start-up, naming the config file and field.
	authorizers, err := auth.ForSources(ctx, app.Pipeline, secrets.New(app.AWS.Config), httpClient)
	if err != nil {
		return err
	}
	pages := source.New(httpClient)
	pages.Auth = authorizers
	h := &handler{
		pipeline:   app.Pipeline,
		runs:       store,
		pages:      pages,
		out:        queue.NewPublisher(app.AWS.SQS),
		fetchURL:   cfg.FetchURL,
		batchesURL: cfg.BatchesURL,
		handoff:    handoff{Margin: cfg.HandoffMargin, After: cfg.HandoffAfter},
		maxMessage: cfg.MaxMessageBytes,
		heartbeat:  store.HeartbeatEvery(),
		maxStops:   cfg.MaxStops, stopBackoff: cfg.StopBackoff,
		metrics: app.Metrics,
	}
	return app.Serve(ctx, cfg.FetchURL, h)
}
