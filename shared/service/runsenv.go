package service

import (
	"time"

	"github.com/sluice-data/sluice/shared/runs"
)

// RunsEnv is the run store's configuration as the services that keep runs
// (dedupe, fetcher, writer) read it from the environment; package runs
// itself reads no variables. Embed it in a service's config and pass
// Config() to runs.New. See the README's configuration reference.
type RunsEnv struct {
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

// Config is the runs.Config the variables describe.
func (e RunsEnv) Config() runs.Config { return runs.Config(e) }

// Validate reports every problem with the run store's variables.
func (e RunsEnv) Validate() error { return e.Config().Validate() }
