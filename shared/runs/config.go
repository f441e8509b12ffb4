package runs

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// Config configures a Store. The services read it from the environment
// (SLUICE_RUNS_TABLE, SLUICE_LEASE, SLUICE_HEARTBEAT, SLUICE_RUN_RETENTION,
// SLUICE_OWNER; see each service's main.go), which is why Validate names
// those variables.
type Config struct {
	// Table is the name of the runs table.
	Table string
	// Lease is how long a claim or heartbeat keeps the input (default 15m).
	// A crashed worker's input is free again at most one lease after its
	// last heartbeat.
	Lease time.Duration
	// Heartbeat is how often a working fetcher renews its lease; it must be
	// under half the lease, so that one lost heartbeat never loses the
	// lease (default: a third of the lease).
	Heartbeat time.Duration
	// Retention is how long attempt history items are kept (default 400
	// days). The run item itself is kept for good: it holds the input's
	// attempt counter, the fencing token.
	Retention time.Duration
	// Owner names this worker in run records (default: the Lambda log
	// stream, or host:pid).
	Owner string
}

// Validate reports every problem with the config at once.
func (c Config) Validate() error {
	var errs []error
	if c.Table == "" {
		errs = append(errs, errors.New("SLUICE_RUNS_TABLE: table name is required"))
	}
	if c.Lease < 0 || (c.Lease > 0 && c.Lease < 2*time.Second) {
		errs = append(errs, fmt.Errorf("SLUICE_LEASE: %v is too short (min 2s)", c.Lease))
	}
	lease := c.Lease
	if lease == 0 {
		lease = 15 * time.Minute
	}
	if c.Heartbeat < 0 || (c.Heartbeat > 0 && c.Heartbeat >= lease/2) {
		errs = append(errs, fmt.Errorf("SLUICE_HEARTBEAT: %v must be positive and under half the lease (%v)", c.Heartbeat, lease))
	}
	if c.Retention < 0 {
		errs = append(errs, fmt.Errorf("SLUICE_RUN_RETENTION: %v must not be negative", c.Retention))
	}
	return errors.Join(errs...)
}

// WithDefaults returns c with every unset field at its default.
func (c Config) WithDefaults() Config {
	if c.Lease == 0 {
		c.Lease = 15 * time.Minute
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = c.Lease / 3
	}
	if c.Retention == 0 {
		c.Retention = 400 * 24 * time.Hour
	}
	if c.Owner == "" {
		c.Owner = defaultOwner()
	}
	return c
}

func defaultOwner() string {
	if s := os.Getenv("AWS_LAMBDA_LOG_STREAM_NAME"); s != "" {
		return s
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s:%d", host, os.Getpid())
}
