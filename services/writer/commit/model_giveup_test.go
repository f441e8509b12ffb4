package commit_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluice-data/sluice/services/writer/commit"
	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/sink"
)

// The delivery side of the model: a message's try fails retryably on its
// last receive, and the consumer's give-up policy (consumer.GiveUp) asks
// the service what giving up on its work means — the fetcher's
// service.FailRun, the writer's settle (mirrored in writerGiveUp: the
// writer's main package cannot be imported) — then deletes the message
// (its run is superseded) or parks it. After each: nothing that needs a
// person is deleted, nothing superseded is parked.

var errThrottled = fault.Retryable(errors.New("S3 throttled"))

// lastReceive is the last receive of one of w's messages failing
// retryably: its fetch message (the fetch's try failed; the message is
// parked or deleted, so the worker's fetch is over) or one of its batches
// (a write throttled).
func (m *model) lastReceive(i, wi int, w *worker) {
	if w.run == nil {
		return
	}
	ref := w.run.Ref()
	m.lastReceives++
	if m.rng.IntN(2) == 0 {
		out := m.deliverFetch(ref, errThrottled, true)
		m.logf("%d: w%d's fetch message of attempt %d fails on its last receive: %v", i, wi, ref.Attempt, out)
		m.settledFetch(ref, out)
		*w = worker{}
		return
	}
	out := m.deliverBatch(i, wi, ref, nil, errThrottled)
	m.logf("%d: w%d's batch message of attempt %d fails on its last receive: %v", i, wi, ref.Attempt, out)
	m.settledBatch(ref, out, false)
}

// deliverBatch runs cause, the outcome of a writer message's try of ref,
// through the consumer's give-up policy with the writer's give-up, on its
// last receive; committed is the partition when cause is the error of the
// message's own commit.
func (m *model) deliverBatch(i, wi int, ref contracts.Run, committed *sink.Partition, cause error) error {
	h := consumer.HandlerFunc(func(ctx context.Context, _ consumer.Message) error {
		consumer.OnGiveUp(ctx, m.writerGiveUp(i, wi, ref, committed))
		return cause
	})
	return consumer.GiveUp(h).Handle(m.ctx, consumer.Message{ID: m.nextMsg(), ReceiveCount: 5, Last: true, Final: true})
}

// writerGiveUp is the writer's give-up (services/writer/handler.go,
// settle): Fail; a run its attempt is committing is either another
// message's commit (this message's work is done: superseded) or this
// message's own, which the commit's GiveUp ends from what the partition
// shows.
func (m *model) writerGiveUp(i, wi int, ref contracts.Run, committed *sink.Partition) consumer.GiveUpFunc {
	return func(ctx context.Context, class string, cause error) (consumer.Fate, error) {
		err := m.store.Fail(ctx, ref, class, cause.Error())
		var fenced *runs.FencedError
		switch {
		case errors.As(err, &fenced) && fenced.Status == runs.Committing && fenced.Attempt == ref.Attempt && committed == nil:
			return consumer.Superseded, nil
		case errors.As(err, &fenced) && fenced.Status == runs.Committing && fenced.Attempt == ref.Attempt:
			end, err := m.committer.GiveUp(ctx, ref, *committed, class, cause.Error())
			m.logf("%d: w%d's last receive gives up on the commit of attempt %d: %v %v", i, wi, ref.Attempt, end, err)
			if err != nil {
				m.fatalf("give up: %v", err)
			}
			m.giveUps[end]++
			if end != commit.EndedFailed {
				return consumer.Superseded, nil
			}
			return consumer.Unfinished, nil
		case errors.As(err, &fenced) && fenced.Superseded():
			return consumer.Superseded, nil
		case err != nil && !errors.Is(err, runs.ErrFenced):
			return consumer.Unfinished, fmt.Errorf("mark run %s FAILED: %w", ref.Key(), err)
		}
		return consumer.Unfinished, nil
	}
}

// settledFetch checks what became of a fetch message of ref given up on
// (out: nil deleted, else parked).
func (m *model) settledFetch(ref contracts.Run, out error) {
	m.settled("fetch", ref, out, false)
}

// settledPermanent checks a fetch message that failed permanently: it is
// parked whatever its run (consumer.GiveUp parks every permanent error
// with its reason), and never deleted.
func (m *model) settledPermanent(ref contracts.Run, out error) {
	if out == nil || !fault.IsPermanent(out) {
		m.fatalf("a fetch message of attempt %d that failed permanently was not parked: %v", ref.Attempt, out)
	}
	m.parked++
}

// settledBatch is settledFetch for a writer message; own says the message
// committed (its own commit failed).
func (m *model) settledBatch(ref contracts.Run, out error, own bool) {
	m.settled("batch", ref, out, !own)
}

// settled checks a message given up on against its run: deleted only when
// the run is superseded (SUCCEEDED as its attempt, or a newer attempt owns
// the input) — or, for a writer message that is not the commit's own,
// when its attempt is COMMITTING (every batch counted: its work is done);
// parked otherwise, and never when superseded (no person is needed). A
// parked message carries its reason.
func (m *model) settled(kind string, ref contracts.Run, out error, doneIfCommitting bool) {
	m.t.Helper()
	r, err := m.store.Get(m.ctx, m.ref.Key())
	lost := errors.Is(err, runs.ErrNotFound)
	if err != nil && !lost {
		m.fatalf("get run: %v", err)
	}
	superseded := !lost && (r.Attempt > ref.Attempt || (r.Attempt == ref.Attempt && r.Status == runs.Succeeded))
	done := !lost && doneIfCommitting && r.Attempt == ref.Attempt && r.Status == runs.Committing
	switch {
	case out == nil && !superseded && !done:
		m.fatalf("a %s message of attempt %d was deleted on its last receive, yet its run is %s: a message that needs a person was dropped", kind, ref.Attempt, attemptOf(r))
	case out != nil && superseded:
		m.fatalf("a %s message of attempt %d was parked, yet its run is %s: it needs no person (%v)", kind, ref.Attempt, attemptOf(r), out)
	case out != nil && !fault.IsPermanent(out):
		m.fatalf("a %s message of attempt %d given up on is neither deleted nor parked: %v", kind, ref.Attempt, out)
	case out == nil:
		m.deleted++
	default:
		m.parked++
	}
}
