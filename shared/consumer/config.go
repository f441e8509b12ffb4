package consumer

import (
	"errors"
	"fmt"
	"time"
)

// Config configures the consumer of one queue, whichever transport serves
// it. The env tags name the variables package service reads it from (see
// the README's configuration reference); DefaultConfig holds the defaults,
// which apply to every variable left unset.
type Config struct {
	// Workers is how many messages are handled at once: by the poller, and
	// of one Lambda batch.
	Workers int `env:"SLUICE_WORKERS"`
	// DLQURL is the dead-letter queue of the consumed queue: permanent
	// failures are parked there at once.
	DLQURL string `env:"SLUICE_DLQ_URL"`
	// MaxReceive is the queue's maxReceiveCount, used only when the queue's
	// redrive policy cannot be read at start-up (see ReadMaxReceive).
	MaxReceive int `env:"SLUICE_MAX_RECEIVE"`
	// Visibility is how long a message is hidden at a time: the poller
	// asks for it on receive, Lambda sets it when a handler starts (its
	// event source mapping receives with the queue's own, much longer,
	// visibility timeout), and while a message is handled it is extended
	// every Visibility/2, so a slow handler never has its message
	// delivered twice. It is also the most a message is hidden once its
	// process or sandbox died with it, or by a receive whose response never
	// reached the poller (a lost response, a poller stopped or killed
	// mid-poll): it is visible again after Visibility. So it is kept short
	// — the cost is one ChangeMessageVisibility per message on Lambda, and
	// one per Visibility/2 for each message handled longer than that (in
	// practice only fetches).
	Visibility time.Duration `env:"SLUICE_VISIBILITY"`
	// PollWait is the poller's long-poll wait of each receive (at most
	// 20s). Zero is taken as the default by the poller (see Poller).
	PollWait time.Duration `env:"SLUICE_POLL_WAIT"`
	// ReceiveBatch is the most messages one receive of the poller asks
	// for (1..10; it asks for no more than it has free workers either).
	// The SDK decodes a receive's whole response at once, at about seven
	// times its payload: for a queue of 1 MiB messages (the writer's),
	// receiving them one at a time keeps that transient at one message,
	// for the same SQS bill (a request per 64 KiB of payload either way).
	ReceiveBatch int `env:"SLUICE_RECEIVE_BATCH"`
	// RetryBase and RetryMax bound the backoff before a failed message is
	// received again (see RetryDelay).
	RetryBase time.Duration `env:"SLUICE_RETRY_BASE"`
	RetryMax  time.Duration `env:"SLUICE_RETRY_MAX"`
	// ShutdownGrace is how long in-flight messages may finish once the
	// poller is told to stop, before their handlers are cancelled. Zero is
	// taken as the default by the poller.
	ShutdownGrace time.Duration `env:"SLUICE_SHUTDOWN_GRACE"`
	// HandleTimeout bounds one handler call of the poller (Lambda's own
	// timeout bounds it there). It has no variable.
	HandleTimeout time.Duration
}

// Defaults of Config.
const (
	DefaultWorkers       = 5
	DefaultReceiveBatch  = 10
	DefaultMaxReceive    = 5
	DefaultVisibility    = 30 * time.Second
	DefaultPollWait      = 20 * time.Second
	DefaultRetryBase     = 2 * time.Second
	DefaultRetryMax      = 5 * time.Minute
	DefaultShutdownGrace = 30 * time.Second
	DefaultHandleTimeout = 15 * time.Minute // Lambda's maximum
)

// DefaultConfig returns the defaults: everything but DLQURL, which has
// none.
func DefaultConfig() Config {
	return Config{
		Workers:       DefaultWorkers,
		ReceiveBatch:  DefaultReceiveBatch,
		MaxReceive:    DefaultMaxReceive,
		Visibility:    DefaultVisibility,
		PollWait:      DefaultPollWait,
		RetryBase:     DefaultRetryBase,
		RetryMax:      DefaultRetryMax,
		ShutdownGrace: DefaultShutdownGrace,
		HandleTimeout: DefaultHandleTimeout,
	}
}

// Validate reports every problem with c at once, naming the variables. It
// does not change c.
func (c Config) Validate() error {
	var errs []error
	if c.Workers < 1 || c.Workers > 100 {
		errs = append(errs, fmt.Errorf("SLUICE_WORKERS: %d, want 1..100", c.Workers))
	}
	if c.ReceiveBatch < 1 || c.ReceiveBatch > 10 {
		errs = append(errs, fmt.Errorf("SLUICE_RECEIVE_BATCH: %d, want 1..10 (an SQS receive's limit)", c.ReceiveBatch))
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
	if c.HandleTimeout <= 0 {
		errs = append(errs, fmt.Errorf("handle timeout: %v, want > 0", c.HandleTimeout))
	}
	return errors.Join(errs...)
}
