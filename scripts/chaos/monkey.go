package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"syscall"
	"time"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/scripts/localrun"
	"github.com/sluice-data/sluice/shared/runs"
)

// slot is one fetcher or writer process, restarted under a new owner name
// after each kill.
type slot struct {
	role     role
	index    int
	gen      int // restarts so far
	proc     *localrun.Proc
	queueURL string   // the queue it consumes
	env      []string // on top of the pipeline's

	pausedUntil  time.Time // zero unless SIGSTOPped
	restartAfter time.Time // zero unless killed and not yet restarted
}

// owner is the slot's SLUICE_OWNER: the process's name in run records.
func (s *slot) owner() string { return fmt.Sprintf("chaos-%s-%d.%d", s.role, s.index, s.gen) }

func (s *slot) start(p *localrun.Pipeline) error {
	proc, err := p.Start(string(s.role), append([]string{"SLUICE_OWNER=" + s.owner()}, s.env...)...)
	if err != nil {
		return err
	}
	s.proc = proc
	return nil
}

// monkey is the chaos: it signals the slots and injects API faults, on a
// schedule drawn from its seeded source of randomness.
type monkey struct {
	rng       *rand.Rand
	cfg       Config
	pipe      *localrun.Pipeline
	api       *demoapi.Server
	sqs       string    // the SQS emulator's endpoint
	log       io.Writer // one line per signal
	sources   []string
	slots     []*slot
	nextSig   time.Time
	nextFault time.Time
	kills     int
	pauses    int
}

func newMonkey(cfg Config, pipe *localrun.Pipeline, api *demoapi.Server, sqsEndpoint string, log io.Writer) *monkey {
	return &monkey{
		rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5eed)), cfg: cfg, pipe: pipe, api: api, sqs: sqsEndpoint, log: log,
		sources: slices.Sorted(maps.Keys(cfg.sources())),
	}
}

// faultEvery is the mean time between two injected faults.
const faultEvery = 400 * time.Millisecond

// jitter is a duration uniform in [d/2, 3d/2).
func (m *monkey) jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(m.rng.Int64N(int64(d)))
}

// tick does what is due at now: restarts, resumes, and while chaos holds,
// the next signal and the next fault. list reads the runs as they stand.
func (m *monkey) tick(ctx context.Context, now time.Time, chaos bool, tk *takeups, list func() (map[string]runs.Run, error)) error {
	for _, s := range m.slots {
		if !s.restartAfter.IsZero() && !now.Before(s.restartAfter) {
			s.restartAfter = time.Time{}
			s.gen++
			if err := s.start(m.pipe); err != nil {
				return err
			}
		}
		if !s.pausedUntil.IsZero() && !now.Before(s.pausedUntil) {
			s.pausedUntil = time.Time{}
			if err := s.proc.Signal(syscall.SIGCONT); err != nil {
				return fmt.Errorf("SIGCONT %s: %w", s.owner(), err)
			}
		}
	}
	if !chaos {
		return nil
	}
	if !now.Before(m.nextFault) {
		m.nextFault = now.Add(m.jitter(faultEvery))
		m.inject()
	}
	if now.Before(m.nextSig) {
		return nil
	}
	m.nextSig = now.Add(m.jitter(m.cfg.Every))
	s := m.slots[m.rng.IntN(len(m.slots))]
	kill := m.rng.IntN(3) < 2 // two kills to one pause
	downtime := time.Duration(m.rng.Int64N(int64(time.Second)))
	pause := time.Second + time.Duration(m.rng.Int64N(int64(2*m.cfg.Lease))) // up to twice the lease
	if !s.restartAfter.IsZero() || (!kill && !s.pausedUntil.IsZero()) {
		return nil // down already, or paused already
	}
	return m.signal(ctx, s, kill, downtime, pause, tk, list)
}

// signal kills or pauses s and notes the work it held.
func (m *monkey) signal(ctx context.Context, s *slot, kill bool, downtime, pause time.Duration, tk *takeups, list func() (map[string]runs.Run, error)) error {
	if s.proc.Exited() {
		return fmt.Errorf("%s exited by itself, which no service should (see its log)", s.owner())
	}
	queued, err := localrun.Messages(ctx, m.sqs, s.queueURL)
	if err != nil {
		return fmt.Errorf("what %s holds: %w", s.owner(), err)
	}
	owner := s.owner()
	if kill {
		s.proc.Kill()
		s.pausedUntil = time.Time{}
		s.restartAfter = time.Now().Add(downtime)
		m.kills++
	} else {
		if err := s.proc.Signal(syscall.SIGSTOP); err != nil {
			return fmt.Errorf("SIGSTOP %s: %w", owner, err)
		}
		s.pausedUntil = time.Now().Add(pause)
		m.pauses++
	}
	at := time.Now()
	now, err := list()
	if err != nil {
		return err
	}
	h := held(s.role, owner, queued.InFlight, now)
	what := "SIGSTOP for " + pause.Round(100*time.Millisecond).String()
	if kill {
		what = "SIGKILL, restart after " + downtime.Round(100*time.Millisecond).String()
	}
	fmt.Fprintf(m.log, "%s %s: %s; holds %v\n", at.UTC().Format("15:04:05.000"), owner, what, h)
	tk.add(at, s.role, owner+" ("+what+")", h, now)
	return nil
}

// inject makes the next requests of a random source fail: 503 or 500
// (retried in process up to retry.max_attempts), or 429 with a Retry-After
// of 1s (waited out) or 2s (over max_retry_after: the walk stops and goes
// on in a delayed continuation).
func (m *monkey) inject() {
	source := m.sources[m.rng.IntN(len(m.sources))]
	var f demoapi.Failure
	switch m.rng.IntN(5) {
	case 0, 1:
		f = demoapi.Failure{Status: 503, Count: 1 + m.rng.IntN(2)}
	case 2:
		f = demoapi.Failure{Status: 500, Count: 1}
	case 3:
		f = demoapi.Failure{Status: 429, RetryAfter: "1", Count: 1}
	default:
		f = demoapi.Failure{Status: 429, RetryAfter: "2", Count: 1}
	}
	m.api.Inject(source, f)
}

// calm resumes every paused process and restarts every killed one at once.
func (m *monkey) calm() error {
	for _, s := range m.slots {
		if !s.pausedUntil.IsZero() {
			s.pausedUntil = time.Time{}
			if err := s.proc.Signal(syscall.SIGCONT); err != nil {
				return fmt.Errorf("SIGCONT %s: %w", s.owner(), err)
			}
		}
		if !s.restartAfter.IsZero() {
			s.restartAfter = time.Time{}
			s.gen++
			if err := s.start(m.pipe); err != nil {
				return err
			}
		}
	}
	return nil
}
