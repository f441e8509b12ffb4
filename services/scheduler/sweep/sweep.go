// Package sweep takes up what nothing else would: runs whose worker died
// (their lease expired and no message of theirs will come back), and
// dead-letter messages that no longer need a person. The scheduler runs
// it on a ticker (SLUICE_SWEEP_EVERY) or on an EventBridge rule.
//
// Take-up: each run a worker held and stopped renewing — a fetch in
// progress (RUNNING, not runs.Fetched) or a commit — whose lease expired
// more than the grace ago (read from the runs table's sparse index of open
// runs, never a scan) gets its input sent again — source, window, trigger,
// not forced, marked TakeUp — and dedupe claims the next attempt over the
// expired lease; the dead attempt's messages are fenced from then on.
// Queued work is left, however long past its lease: a CLAIMED run (its
// fetch message waits in the fetch queue) and a run whose fetch finished
// (its batches wait); if their message dies, the reconcile parks it with
// why. A run taken up MaxTakeUps times in a row without ending is marked
// FAILED (class crashed) instead, once the last take-up's claim came and
// died too, so that a message that kills every process it reaches cannot
// cycle forever. A run whose worker died is taken up within lease +
// interval + grace, with nobody acting.
//
// Reconcile: the DLQs of the inputs, fetch and batches queues are read
// (a bounded number of messages per sweep, each once), and each message is
// judged by its run with the rules of package redrive: deleted when the
// input no longer needs it (SUCCEEDED, or a newer attempt claimed it);
// parked again with the run's reason when it reached the DLQ by SQS's own
// count, with none, and its run has since FAILED, or is queued work whose
// lease expired (the message was its only way on); left otherwise — for a
// later sweep while its run is open, for a person when it says why.
// A message that names no run is left in place and logged.
package sweep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/logging"
	"github.com/sluice-data/sluice/shared/metrics"
	"github.com/sluice-data/sluice/shared/queue"
	"github.com/sluice-data/sluice/shared/runs"
)

// Runs is what the sweep reads and changes of the run store; *runs.Store
// is one.
type Runs interface {
	Expired(ctx context.Context, before time.Time, limit int) ([]runs.Run, error)
	TakeUp(ctx context.Context, req runs.TakeUpRequest) (runs.TakeUpOutcome, error)
	Get(ctx context.Context, input string) (runs.Run, error)
}

// Sender publishes messages; *queue.Publisher is one.
type Sender interface {
	SendBatch(ctx context.Context, url string, bodies [][]byte) error
}

var (
	_ Runs   = (*runs.Store)(nil)
	_ Sender = (*queue.Publisher)(nil)
)

// Config configures a Sweeper.
type Config struct {
	// InputsURL is the inputs queue a taken-up run's input is sent to.
	InputsURL string
	// Grace is how long past its expiry a lease is left before the run is
	// taken up: room for the clocks of the workers. 0 is none; it has no
	// default here (SLUICE_SWEEP_GRACE's is DefaultGrace).
	Grace time.Duration
	// MaxTakeUps is the take-up budget of a run, at least 1; it has no
	// default here (SLUICE_MAX_TAKEUPS's is DefaultMaxTakeUps).
	MaxTakeUps int
	// Runs bounds the runs taken up per sweep (default 100); the rest wait
	// for the next sweep.
	Runs int
	// DLQMessages bounds the messages read per DLQ per sweep (default 100).
	DLQMessages int
	// Hold is how long a DLQ message the sweep received stays hidden if
	// the sweep dies before making it visible again (default 1m).
	Hold time.Duration
	// Metrics puts a run the sweep marks FAILED on its line (nil: none).
	Metrics *metrics.Emitter
}

// Defaults of Config (Grace and MaxTakeUps: of their variables).
const (
	DefaultGrace       = 30 * time.Second
	DefaultMaxTakeUps  = 3
	DefaultRuns        = 100
	DefaultDLQMessages = 100
	DefaultHold        = time.Minute
)

// WithDefaults returns c with every unset bound (Runs, DLQMessages,
// Hold) at its default; Grace and MaxTakeUps are as given.
func (c Config) WithDefaults() Config {
	if c.Runs == 0 {
		c.Runs = DefaultRuns
	}
	if c.DLQMessages == 0 {
		c.DLQMessages = DefaultDLQMessages
	}
	if c.Hold == 0 {
		c.Hold = DefaultHold
	}
	return c
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var errs []error
	if c.InputsURL == "" {
		errs = append(errs, errors.New("SLUICE_INPUTS_QUEUE_URL: required by the sweep"))
	}
	if c.Grace < 0 {
		errs = append(errs, fmt.Errorf("SLUICE_SWEEP_GRACE: %v must not be negative", c.Grace))
	}
	if c.MaxTakeUps < 1 {
		errs = append(errs, fmt.Errorf("SLUICE_MAX_TAKEUPS: %d must be at least 1", c.MaxTakeUps))
	}
	if c.Runs < 0 || c.DLQMessages < 0 || c.Hold < 0 {
		errs = append(errs, errors.New("sweep bounds must not be negative"))
	}
	return errors.Join(errs...)
}

// Sweeper runs sweeps. It is safe for one sweep at a time.
type Sweeper struct {
	runs Runs
	out  Sender
	dlqs []DLQ
	cfg  Config
	now  func() time.Time
}

// New returns a Sweeper over the run store, sending inputs through out and
// reconciling dlqs.
func New(store Runs, out Sender, dlqs []DLQ, cfg Config) (*Sweeper, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Sweeper{runs: store, out: out, dlqs: dlqs, cfg: cfg.WithDefaults(), now: time.Now}, nil
}

// Report is what one sweep did.
type Report struct {
	Expired    int // runs found past their lease and the grace that the sweep takes up (a fetch in progress, a commit)
	TakenUp    int // of them, inputs sent again
	GivenUp    int // marked FAILED over the budget
	Stuck      int // COMMITTING over the budget, left for a person
	Deleted    int // DLQ messages deleted, no longer needed
	Parked     int // DLQ messages parked again with their run's reason
	Left       int // DLQ messages left where they are
	Unreadable int // DLQ messages that name no run, left and logged
}

// Sweep takes up the expired runs, then reconciles the DLQs. It returns
// what it did, and every error it met; a step that failed is left for the
// next sweep (every step is safe to repeat).
func (s *Sweeper) Sweep(ctx context.Context) (Report, error) {
	var rep Report
	var errs []error
	if err := s.takeUp(ctx, &rep); err != nil {
		errs = append(errs, err)
	}
	for _, d := range s.dlqs {
		if err := s.reconcile(ctx, d, &rep); err != nil {
			errs = append(errs, err)
		}
	}
	return rep, errors.Join(errs...)
}

// takeUp takes up every fetch in progress or commit whose lease expired
// before now − grace.
func (s *Sweeper) takeUp(ctx context.Context, rep *Report) error {
	log := logging.From(ctx)
	expired, err := s.runs.Expired(ctx, s.now().Add(-s.cfg.Grace), s.cfg.Runs)
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	rep.Expired = len(expired)
	var (
		bodies [][]byte
		taken  []runs.Run
		errs   []error
	)
	for _, r := range expired {
		out, err := s.runs.TakeUp(ctx, runs.TakeUpRequest{Run: r, ExpiredBefore: s.now().Add(-s.cfg.Grace), Max: s.cfg.MaxTakeUps})
		if err != nil {
			errs = append(errs, fmt.Errorf("sweep: take up %s: %w", r.Input, err))
			continue
		}
		fields := []zap.Field{zap.String("input", r.Input), zap.Int("attempt", r.Attempt), zap.String("run_id", r.RunID),
			zap.String("status", string(r.Status)), zap.Time("lease_until", r.LeaseExpiry()), zap.Int("takeups", r.TakeUps)}
		switch out {
		case runs.TakenUp:
			body, err := json.Marshal(runs.TakeUpInput(r))
			if err != nil {
				errs = append(errs, fault.Permanent(fmt.Errorf("sweep: encode input %s: %w", r.Input, err)))
				continue
			}
			bodies, taken = append(bodies, body), append(taken, r)
		case runs.GivenUp:
			rep.GivenUp++
			log.Warn("run FAILED: its worker died on every take-up", append(fields, zap.String("error_class", runs.ClassCrashed), zap.Int("max_takeups", s.cfg.MaxTakeUps),
				s.cfg.Metrics.Source(r.Source, metrics.RunsFailed.Int(1)))...)
		case runs.StuckCommitting:
			rep.Stuck++
			log.Error("run COMMITTING past its take-up budget; its commit may be published, so it is not failed: it needs a person (sluicectl runs, the batches DLQ)", fields...)
		}
	}
	if len(bodies) == 0 {
		return errors.Join(errs...)
	}
	// A take-up counted but not sent is sent a lease later, when TakeUp
	// counts it again: a lost send costs one take-up of the budget.
	if err := s.out.SendBatch(ctx, s.cfg.InputsURL, bodies); err != nil {
		return errors.Join(append(errs, fmt.Errorf("sweep: send %d inputs: %w", len(bodies), err))...)
	}
	for _, r := range taken {
		log.Info("run's lease expired with nobody on it; taken up again: input sent", zap.String("input", r.Input), zap.Int("attempt", r.Attempt),
			zap.String("run_id", r.RunID), zap.String("status", string(r.Status)), zap.Int("takeup", r.TakeUps+1), zap.Int("max_takeups", s.cfg.MaxTakeUps))
	}
	rep.TakenUp = len(taken)
	return errors.Join(errs...)
}
