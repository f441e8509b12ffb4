package main

import (
	"fmt"
	"time"

	"github.com/sluice-data/sluice/scripts/localrun"
	"github.com/sluice-data/sluice/shared/runs"
)

// Crash-to-taken-up time. At each SIGKILL or SIGSTOP of a process, the rig
// notes the work that process may hold (held), with the run of each input
// as it stands just after the signal. An input is taken up at the first
// look at the runs table (every pollEvery) that shows it advanced by a
// live process in the way the victim would have advanced it (advanced);
// the take-up time is that moment minus the signal's.

// role is what a victim does to runs.
type role string

const (
	fetcherRole role = "fetcher"
	writerRole  role = "writer"
)

// held returns the inputs a victim may hold at a signal: for a fetcher,
// those with a fetch message in flight whose fetch has not finished (not
// Fetched, no totals) and that are RUNNING by it, or CLAIMED (their
// delivery may be the victim's: a claim's owner is dedupe); for a writer,
// those with a batch or done message in flight whose run is RUNNING or
// COMMITTING. inflight is the victim's queue's messages in flight just
// before the signal (both processes of a role share the queue, so a
// writer's held work may be its peer's: then it is taken up at once).
func held(r role, owner string, inflight []localrun.MessageRef, now map[string]runs.Run) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range inflight {
		in := m.Input()
		run, ok := now[in]
		if !ok || seen[in] {
			continue
		}
		switch r {
		case fetcherRole:
			ok = (run.Status == runs.Claimed || (run.Status == runs.Running && run.Owner == owner)) && !run.Fetched && run.BatchesExpected == nil
		case writerRole:
			ok = run.Status == runs.Running || run.Status == runs.Committing
		}
		if ok {
			seen[in] = true
			out = append(out, in)
		}
	}
	return out
}

// advanced reports whether the run moved on from base in a way the role's
// work moves it: settled, or for a fetcher evidence that a fetch went on —
// a new attempt, status, owner, hop, checkpoint, or the fetch finished
// (Fetched, the totals) — never a lease renewed nor a batch counted, which
// a writer does with batches sent before the signal; for a writer a batch
// counted, the totals, or a new status or attempt.
func advanced(r role, base, now runs.Run) bool {
	if now.Status == runs.Succeeded || now.Status == runs.Failed {
		return true
	}
	if now.Attempt != base.Attempt || now.Status != base.Status || !sameTotals(base, now) {
		return true
	}
	if r == writerRole {
		return len(now.Written) != len(base.Written)
	}
	return now.Owner != base.Owner || now.Taken != base.Taken || now.Hops != base.Hops || now.Checkpoint != base.Checkpoint ||
		now.StartedAt != base.StartedAt || now.FetchMessage != base.FetchMessage || now.Fetched != base.Fetched
}

func sameTotals(a, b runs.Run) bool {
	if a.BatchesExpected == nil || b.BatchesExpected == nil {
		return a.BatchesExpected == nil && b.BatchesExpected == nil
	}
	return *a.BatchesExpected == *b.BatchesExpected
}

// pendingTakeup is one input held at one signal.
type pendingTakeup struct {
	at     time.Time
	role   role
	signal string // the victim and the signal, for the worst's description
	base   runs.Run
}

// takeups tracks the work held at signals until it is taken up.
type takeups struct {
	pending   []pendingTakeup
	worst     time.Duration
	worstWhat string // the input, victim and signal of the worst
}

// add notes the inputs held by a victim of role r, signalled at at (what
// names the victim and the signal), with their runs as they stand.
func (t *takeups) add(at time.Time, r role, what string, inputs []string, now map[string]runs.Run) {
	for _, in := range inputs {
		t.pending = append(t.pending, pendingTakeup{at: at, role: r, signal: what, base: now[in]})
	}
}

// note makes d the worst if it is.
func (t *takeups) note(d time.Duration, p pendingTakeup) {
	if d > t.worst {
		t.worst = d
		t.worstWhat = fmt.Sprintf("%s held by %s at %s", p.base.Input, p.signal, p.at.UTC().Format("15:04:05.000"))
	}
}

// observe resolves every pending take-up that the runs as seen at seen
// show advanced.
func (t *takeups) observe(seen time.Time, now map[string]runs.Run) {
	left := t.pending[:0]
	for _, p := range t.pending {
		if run, ok := now[p.base.Input]; ok && advanced(p.role, p.base, run) {
			t.note(seen.Sub(p.at), p)
			continue
		}
		left = append(left, p)
	}
	t.pending = left
}

// finish counts the take-ups still pending at end, and folds their wait
// so far into the worst.
func (t *takeups) finish(end time.Time) (worst time.Duration, notTakenUp int) {
	for _, p := range t.pending {
		t.note(end.Sub(p.at), p)
	}
	return t.worst, len(t.pending)
}
