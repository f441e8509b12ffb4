package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/runs"
)

// ErrWindowsFailed: a window that --wait waited for ended FAILED. sluicectl
// exits 1 with it (2 for every other error).
var ErrWindowsFailed = errors.New("windows FAILED")

// progressOut is where --wait draws its progress (stderr; tests swap it).
var progressOut io.Writer = os.Stderr

// failedSettle is how long --wait holds the FAILED end of a run that was
// live when the trigger was sent before it counts it as the end: the run
// may have ended before dedupe handled the trigger, which then claims a
// new attempt (the one waited for). Dedupe handles a trigger within
// seconds; tests shorten it.
var failedSettle = 10 * time.Second

// noRunHint is how long --wait waits for a window's first run before it
// says what may be wrong (tests shorten it).
var noRunHint = time.Minute

// waitFlags are the flags of a command that can wait for the windows it
// asked for.
type waitFlags struct {
	fs      *flag.FlagSet
	wait    *bool
	timeout *time.Duration
	poll    *time.Duration
}

func addWaitFlags(fs *flag.FlagSet) waitFlags {
	return waitFlags{
		fs:      fs,
		wait:    fs.Bool("wait", false, "wait until every window asked for has SUCCEEDED or FAILED, showing progress on stderr, then print their runs; exit 1 if one FAILED"),
		timeout: fs.Duration("wait-timeout", 0, "with --wait, give up after this long (default: wait until interrupted)"),
		poll:    fs.Duration("poll", 2*time.Second, "with --wait, how often the runs are read (> 0)"),
	}
}

// validate checks the wait flags once parsed, before anything is sent: a
// poll of 0 would spin, a negative timeout would read as "forever", and
// either given without --wait would be silently ignored.
func (f waitFlags) validate() error {
	var errs []error
	if *f.poll <= 0 {
		errs = append(errs, fmt.Errorf("--poll %v: want a duration > 0", *f.poll))
	}
	if *f.timeout < 0 {
		errs = append(errs, fmt.Errorf("--wait-timeout %v: want a duration >= 0 (0: until interrupted)", *f.timeout))
	}
	if !*f.wait {
		f.fs.Visit(func(fl *flag.Flag) {
			if fl.Name == "poll" || fl.Name == "wait-timeout" {
				errs = append(errs, fmt.Errorf("--%s is for --wait, which is not given", fl.Name))
			}
		})
	}
	return errors.Join(errs...)
}

// waiter waits for the runs of a set of inputs to end.
type waiter struct {
	store  *runs.Store
	keys   []string            // the inputs, in the order asked
	before map[string]runs.Run // their runs before the trigger was sent
	force  bool
	// failedAt holds when a run live before the trigger was first seen
	// FAILED (see done).
	failedAt map[string]time.Time
}

// newWaiter reads the runs of inputs as they are before the trigger that
// asks for them is sent: a run that ended before is not the one waited for
// unless the trigger will not run it again.
func newWaiter(ctx context.Context, aws awsClients, inputs []pipeline.Input, force bool) (*waiter, error) {
	store, err := openStore(aws)
	if err != nil {
		return nil, err
	}
	w := &waiter{store: store, force: force}
	for _, in := range inputs {
		w.keys = append(w.keys, contracts.InputKey(in.Source, in.Window))
	}
	if w.before, err = store.GetMany(ctx, w.keys); err != nil {
		return nil, err
	}
	return w, nil
}

// done reports whether cur is the end of the run the trigger asked for: it
// ended, and it is not a run that ended before the trigger and that the
// trigger runs again (a FAILED one, or with --force a SUCCEEDED one: those
// take a new attempt). A run live before the trigger is waited for as is —
// dedupe drops the trigger while the run holds its lease — but should it
// end FAILED, the trigger may reach dedupe after and claim a new attempt:
// that FAILED end counts only once it has stood for failedSettle.
func (w *waiter) done(cur runs.Run, ok bool, now time.Time) bool {
	if !ok || (cur.Status != runs.Succeeded && cur.Status != runs.Failed) {
		return false
	}
	prev, had := w.before[cur.Input]
	switch {
	case !had || cur.Attempt > prev.Attempt:
		return true
	case prev.Status.Live():
		if cur.Status == runs.Succeeded {
			return true
		}
		if w.failedAt == nil {
			w.failedAt = map[string]time.Time{}
		}
		at, seen := w.failedAt[cur.Input]
		if !seen {
			w.failedAt[cur.Input], at = now, now
		}
		return now.Sub(at) >= failedSettle
	default:
		return prev.Status == runs.Succeeded && !w.force
	}
}

// tally is what one poll found.
type tally struct {
	done, failed int
	records      int64
	noRun        []string // inputs with no run yet
}

func (w *waiter) count(got map[string]runs.Run) tally {
	var t tally
	now := time.Now()
	for _, k := range w.keys {
		r, ok := got[k]
		if !ok {
			t.noRun = append(t.noRun, k)
		}
		prev, had := w.before[k]
		if ok && (!had || r.Attempt > prev.Attempt || prev.Status.Live()) {
			t.records += r.Records // this trigger's run, done or not
		}
		if w.done(r, ok, now) {
			t.done++
			if r.Status == runs.Failed {
				t.failed++
			}
		}
	}
	return t
}

// wait polls until every input's run is done, drawing progress, then
// prints their runs to out. It returns an error wrapping ErrWindowsFailed
// when one FAILED.
func (w *waiter) wait(ctx context.Context, f waitFlags, out io.Writer) error {
	if *f.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *f.timeout)
		defer cancel()
	}
	bar := newProgress(progressOut, len(w.keys))
	hinted := false
	var seen map[string]runs.Run // the runs the latest poll read
	for {
		got, err := w.store.GetMany(ctx, w.keys)
		if err != nil && ctx.Err() == nil {
			return err
		}
		if err == nil {
			seen = got
			t := w.count(got)
			bar.draw(t)
			if !hinted && len(t.noRun) > 0 && time.Since(bar.start) >= noRunHint {
				hinted = true
				bar.note(fmt.Sprintf("still no run for %d of %d windows (first: %s): dedupe has not claimed them. "+
					"If their trigger was parked in a dead-letter queue, none will come (sluicectl redrive); --wait-timeout bounds the wait",
					len(t.noRun), len(w.keys), t.noRun[0]))
			}
			if t.done == len(w.keys) {
				bar.finish()
				return w.report(got, out)
			}
		}
		select {
		case <-ctx.Done():
			bar.finish()
			var list []runs.Run // what there is so far
			for _, k := range w.keys {
				if r, ok := seen[k]; ok {
					list = append(list, r)
				}
			}
			if err := PrintRuns(out, list); err != nil {
				return err
			}
			return fmt.Errorf("stopped waiting (%w): %s", ctx.Err(), bar.last)
		case <-time.After(*f.poll):
		}
	}
}

// report prints the runs waited for and says which FAILED.
func (w *waiter) report(got map[string]runs.Run, out io.Writer) error {
	list := make([]runs.Run, 0, len(w.keys))
	var failed []string
	for _, k := range w.keys {
		r := got[k]
		list = append(list, r)
		if r.Status == runs.Failed {
			failed = append(failed, k)
		}
	}
	if err := PrintRuns(out, list); err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("%w: %d of %d: %s (sluicectl runs <input> shows why)", ErrWindowsFailed, len(failed), len(w.keys), strings.Join(failed, ", "))
	}
	fmt.Fprintf(out, "all %d windows SUCCEEDED\n", len(w.keys))
	return nil
}

// progress draws windows done / total, records and rate: a bar redrawn in
// place on a terminal, a line per change (and at least every 30s) else.
type progress struct {
	w        io.Writer
	tty      bool
	total    int
	start    time.Time
	last     string // the latest line drawn
	lastAt   time.Time
	lastSeen [3]int64 // done, failed, records of the latest line printed
}

func newProgress(w io.Writer, total int) *progress {
	return &progress{w: w, tty: isTerminal(w), total: total, start: time.Now()}
}

func (p *progress) draw(t tally) {
	elapsed := time.Since(p.start)
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(t.records) / s
	}
	line := fmt.Sprintf("%d/%d windows  %d records  %.0f records/s  %d failed  %s", t.done, p.total, t.records, rate, t.failed, elapsed.Round(time.Second))
	p.last = line
	if p.tty {
		const width = 30
		n := width * t.done / max(p.total, 1)
		fmt.Fprintf(p.w, "\r\x1b[K[%s%s] %s", strings.Repeat("█", n), strings.Repeat("░", width-n), line)
		return
	}
	seen := [3]int64{int64(t.done), int64(t.failed), t.records}
	if seen != p.lastSeen || p.lastAt.IsZero() || time.Since(p.lastAt) >= 30*time.Second {
		fmt.Fprintln(p.w, line)
		p.lastSeen, p.lastAt = seen, time.Now()
	}
}

// note writes a line of its own under the bar.
func (p *progress) note(s string) {
	if p.tty {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
	fmt.Fprintln(p.w, s)
}

// finish ends a bar drawn in place.
func (p *progress) finish() {
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

// exitCode is sluicectl's exit status for the error a command returned.
func exitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrWindowsFailed):
		return 1
	default:
		return 2
	}
}
