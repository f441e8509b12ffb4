package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/queue"
	"github.com/sluice-data/sluice/shared/redrive"
	"github.com/sluice-data/sluice/shared/runs"
)

// claimPoll is how often redrive reads the runs it re-triggered, waiting
// for their claims.
const claimPoll = time.Second

// runGetter reads run records; *runs.Store is one.
type runGetter interface {
	Get(ctx context.Context, input string) (runs.Run, error)
}

var _ runGetter = (*runs.Store)(nil)

// parked is one input's messages in a fetch or batches DLQ, and what
// redrive found of its run.
type parked struct {
	in       contracts.Input
	msgs     []consumer.Message
	attempts []int    // of msgs; 0 where a damaged body names none
	run      runs.Run // as redrive found it (zero: no run)
	// For a free input, re-triggered: the run as last read, and whether a
	// new attempt has claimed the input since (or it SUCCEEDED).
	retriggered bool
	after       runs.Run
	claimed     bool
}

// held reports whether r holds a live lease at t: dedupe drops a plain
// trigger of its input.
func held(r runs.Run, t time.Time) bool { return r.Status.Live() && r.LeaseUntil >= t.Unix() }

// free reports whether a plain claim would take the input of r at t: no
// run, the run FAILED, or its lease expired (the condition of
// runs.Store.Claim).
func free(r runs.Run, t time.Time) bool {
	return r.Attempt == 0 || r.Status == runs.Failed || (r.Status.Live() && !held(r, t))
}

// needless reports whether the input no longer needs its i-th message:
// claimed anew since the re-trigger, SUCCEEDED, or held by an attempt newer
// than the message's.
func (p *parked) needless(i int, t time.Time) bool {
	switch {
	case p.claimed, p.run.Status == runs.Succeeded:
		return true
	case held(p.run, t):
		// Not the message (or its parked copy) whose own restart the run is.
		return p.attempts[i] > 0 && p.attempts[i] < p.run.Attempt && p.run.FetchMessage != consumer.OriginalID(p.msgs[i])
	}
	return false
}

// redriveRuns empties a fetch or batches DLQ by the runs its messages
// belong to. Invariant: a message is deleted only once its input no longer
// needs it — the input SUCCEEDED, or an attempt newer than the message's
// holds it, or it was claimed anew after redrive re-triggered it — so that
// a re-trigger dedupe drops (the run still holds a live lease) never costs
// the message. In order:
//
//  1. read the DLQ (bounded, see dlqReader) and group its messages by input;
//  2. read each input's run; send one Input (trigger redrive) for each free
//     one (FAILED, lease expired, no run), as dedupe would claim it;
//  3. wait up to wait for those inputs' runs to show a new attempt;
//  4. delete the messages no longer needed; every other message is made
//     visible again at once, and the report says, per input, why it stays.
//
// Messages that name no run stay in the DLQ.
func redriveRuns(ctx context.Context, api *sqs.Client, store runGetter, name, dlqURL, inputsURL string, max int, wait time.Duration, out io.Writer) (err error) {
	dlq, err := openDLQ(ctx, api, dlqURL, max)
	if err != nil {
		return err
	}
	dlq.hold = holdFor + wait
	var (
		all     []consumer.Message // received, in order
		deleted = map[string]bool{}
		byKey   = map[string]*parked{}
		inputs  []*parked
		notRuns int
	)
	// Whatever happens, messages left behind become visible again now,
	// not after the hold.
	defer func() {
		var left []consumer.Message
		for _, m := range all {
			if !deleted[m.ID] {
				left = append(left, m)
			}
		}
		if rerr := dlq.release(ctx, left); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}()

	// 1. Read the DLQ, grouping its messages by input.
	for {
		msgs, err := dlq.next(ctx)
		if err != nil {
			return fmt.Errorf("read %s (every message is kept): %w", dlqURL, err)
		}
		if len(msgs) == 0 {
			break
		}
		for _, m := range msgs {
			all = append(all, m)
			in, attempt, err := redrive.InputFor(m.Body)
			if err != nil {
				notRuns++
				continue
			}
			p := byKey[in.Key()]
			if p == nil {
				p = &parked{in: in}
				byKey[in.Key()] = p
				inputs = append(inputs, p)
			}
			p.msgs = append(p.msgs, m)
			p.attempts = append(p.attempts, attempt)
		}
	}
	slices.SortFunc(inputs, func(a, b *parked) int { return strings.Compare(a.in.Key(), b.in.Key()) })

	// 2. Read each input's run; re-trigger the free ones.
	now := time.Now()
	var bodies [][]byte
	var retriggered []*parked
	for _, p := range inputs {
		if p.run, err = currentRun(ctx, store, p.in.Key()); err != nil {
			return fmt.Errorf("every DLQ message is kept (running redrive again is safe): %w", err)
		}
		if !free(p.run, now) {
			continue
		}
		body, err := json.Marshal(p.in)
		if err != nil {
			return err
		}
		p.retriggered = true
		bodies = append(bodies, body)
		retriggered = append(retriggered, p)
	}
	if len(bodies) > 0 {
		if err := queue.NewPublisher(api).SendBatch(ctx, inputsURL, bodies); err != nil {
			return fmt.Errorf("re-trigger inputs (every DLQ message is kept; running redrive again is safe): %w", err)
		}
	}

	// 3. Wait for their claims.
	if err := awaitClaims(ctx, store, retriggered, wait); err != nil {
		return fmt.Errorf("wait for the claims of the inputs re-triggered (their DLQ messages are kept; running redrive again is safe): %w", err)
	}

	// 4. Delete the messages no longer needed.
	now = time.Now()
	for _, p := range inputs {
		for i, m := range p.msgs {
			if !p.needless(i, now) {
				continue
			}
			if err := dlq.delete(ctx, m); err != nil {
				return fmt.Errorf("delete a message of %s (it is kept; running redrive again is safe): %w", p.in.Key(), err)
			}
			deleted[m.ID] = true
		}
	}
	report(out, name, dlq, inputs, len(all), len(deleted), notRuns, wait, now)
	return nil
}

// currentRun returns input's run, or the zero Run when it has none.
func currentRun(ctx context.Context, store runGetter, input string) (runs.Run, error) {
	r, err := store.Get(ctx, input)
	if errors.Is(err, runs.ErrNotFound) {
		return runs.Run{}, nil
	}
	return r, err
}

// awaitClaims reads the runs of ps until each shows a newer attempt than
// redrive found (or SUCCEEDED), or wait has passed.
func awaitClaims(ctx context.Context, store runGetter, ps []*parked, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		waiting := 0
		for _, p := range ps {
			if p.claimed {
				continue
			}
			r, err := currentRun(ctx, store, p.in.Key())
			if err != nil {
				return err
			}
			p.after = r
			p.claimed = r.Attempt > p.run.Attempt || r.Status == runs.Succeeded
			if !p.claimed {
				waiting++
			}
		}
		left := time.Until(deadline)
		if waiting == 0 || left <= 0 {
			return nil
		}
		t := time.NewTimer(min(claimPoll, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// report writes what redrive did: one summary line, the inputs whose
// messages went by reason, and one line per input with a message kept.
func report(out io.Writer, name string, dlq *dlqReader, inputs []*parked, handled, deleted, notRuns int, wait time.Duration, now time.Time) {
	fmt.Fprintf(out, "redrive %s: %s (%s): %d deleted, %d kept%s\n",
		name, plural(handled, "DLQ message"), plural(len(inputs), "input"), deleted, handled-deleted, dlq.stopNote())
	var claimed, succeeded, newer, kept []string
	for _, p := range inputs {
		key := p.in.Key()
		gone := 0
		for i := range p.msgs {
			if p.needless(i, now) {
				gone++
			}
		}
		switch {
		case gone < len(p.msgs):
			kept = append(kept, keptLine(p, len(p.msgs)-gone, wait, now))
		case p.run.Status == runs.Succeeded || (p.claimed && p.after.Status == runs.Succeeded && p.after.Attempt == p.run.Attempt):
			succeeded = append(succeeded, key)
		case p.claimed:
			claimed = append(claimed, fmt.Sprintf("%s (attempt %d)", key, p.after.Attempt))
		default:
			newer = append(newer, fmt.Sprintf("%s (attempt %d)", key, p.run.Attempt))
		}
	}
	if len(claimed) > 0 {
		fmt.Fprintf(out, "deleted, re-triggered and claimed anew: %s\n", listKeys(claimed))
	}
	if len(succeeded) > 0 {
		fmt.Fprintf(out, "deleted, SUCCEEDED, not rerun: %s (`sluicectl trigger --force` reruns one)\n", listKeys(succeeded))
	}
	if len(newer) > 0 {
		fmt.Fprintf(out, "deleted, taken up by a newer attempt: %s\n", listKeys(newer))
	}
	for _, line := range kept {
		fmt.Fprintln(out, line)
	}
	if notRuns > 0 {
		fmt.Fprintf(out, "kept %s: not a Sluice run message (no readable source and window)\n", plural(notRuns, "message"))
	}
}

// keptLine says why n messages of p stay in the DLQ, and what the
// operator can do.
func keptLine(p *parked, n int, wait time.Duration, now time.Time) string {
	key := p.in.Key()
	head := fmt.Sprintf("kept %s (%s): ", key, plural(n, "DLQ message"))
	r := p.run
	switch {
	case p.retriggered:
		was := "no run"
		if p.after.Attempt > 0 {
			was = fmt.Sprintf("%s as attempt %d", p.after.Status, p.after.Attempt)
		}
		return head + fmt.Sprintf("re-triggered, not claimed within %v (%s): dedupe claims it once it takes the input "+
			"(is dedupe running? is the input in the inputs DLQ, with its reason?); redrive again then deletes the message", wait, was)
	case held(r, now):
		return head + fmt.Sprintf("%s as attempt %d, lease until %s (owner %s): dedupe drops a re-trigger while the lease is live. "+
			"Redrive again after it, or, if its worker is gone, end the run with `sluicectl release --force %s` and redrive again",
			r.Status, r.Attempt, r.LeaseExpiry().Format(time.RFC3339), r.Owner, key)
	}
	// The lease ran out between the look-up and now: the next redrive
	// re-triggers it.
	return head + fmt.Sprintf("%s as attempt %d, lease ended %s while redrive ran; redrive again", r.Status, r.Attempt, r.LeaseExpiry().Format(time.RFC3339))
}

func listKeys(keys []string) string {
	if len(keys) <= listedKeys {
		return strings.Join(keys, ", ")
	}
	return fmt.Sprintf("%s, … %d more", strings.Join(keys[:listedKeys], ", "), len(keys)-listedKeys)
}
