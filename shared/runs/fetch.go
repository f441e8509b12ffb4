package runs

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/fault"
)

// Start moves the claimed run to RUNNING for the fetch message fetchMsg
// and renews its lease. Only one fetch message can start a run.
//
// When that same message is delivered again while the run is RUNNING (its
// first try crashed, stalled or timed out), Start restarts the fetch as
// the next attempt — but only once the earlier try's lease has expired: a
// try that is alive keeps heartbeating, and the redelivery gets a
// retryable error that asks to come back when the lease ends. A restart
// forgets the batches written so far, and every write of the earlier try
// is fenced from then on. The returned run carries the attempt to use.
func (s *Store) Start(ctx context.Context, r contracts.Run, fetchMsg string) (Run, error) {
	now := s.now().UTC()
	want := Run{Attempt: r.Attempt, FetchMessage: fetchMsg, StartedAt: now.Format(time.RFC3339Nano), Owner: s.cfg.Owner}
	run, applied, err := s.tryUpdate(ctx, opStart, r,
		"SET #st = :running, started_at = :at, lease_until = :lease, fetch_msg = :mid, #owner = :owner, rev = if_not_exists(rev, :zero) + :one",
		"attempt = :attempt AND #st = :claimed",
		map[string]types.AttributeValue{
			":running": str(string(Running)), ":claimed": str(string(Claimed)), ":mid": str(fetchMsg),
			":at": str(want.StartedAt), ":lease": num(now.Add(s.cfg.Lease).Unix()), ":owner": str(s.cfg.Owner),
			":zero": num(0), ":one": num(1),
		}, "owner")
	if err != nil {
		return Run{}, err
	}
	if !applied && !retried(opStart, run, want) {
		return s.restart(ctx, opStart, r, fetchMsg, run, now)
	}
	s.bestEffort(ctx, s.logAttempt(ctx, run, now))
	return run, nil
}

// Continue is Start for invocation hop > 0 of a fetch: it continues the
// run from the checkpoint hop-1 wrote (see Checkpoint) — only while the
// run is RUNNING as the same attempt, has handed over exactly hop times,
// and no invocation has taken this continuation yet. A continuation
// message delivered again (its invocation died) restarts the fetch from
// scratch as the next attempt, as Start does for its message: batches sent
// after the checkpoint cannot be trusted to come out the same.
func (s *Store) Continue(ctx context.Context, r contracts.Run, fetchMsg string, hop int) (Run, error) {
	now := s.now().UTC()
	want := Run{Attempt: r.Attempt, FetchMessage: fetchMsg, Taken: hop, LeaseUntil: now.Add(s.cfg.Lease).Unix(), Owner: s.cfg.Owner}
	run, applied, err := s.tryUpdate(ctx, opContinue, r,
		"SET lease_until = :lease, fetch_msg = :mid, #owner = :owner, taken = :hop REMOVE yielded",
		"attempt = :attempt AND #st = :running AND hops = :hop AND (attribute_not_exists(taken) OR taken < :hop)",
		map[string]types.AttributeValue{
			":running": str(string(Running)), ":mid": str(fetchMsg), ":lease": num(want.LeaseUntil),
			":owner": str(s.cfg.Owner), ":hop": num(int64(hop)),
		}, "owner")
	if err != nil {
		return Run{}, err
	}
	if !applied && !retried(opContinue, run, want) {
		return s.restart(ctx, opContinue, r, fetchMsg, run, now)
	}
	return run, nil
}

// StartHop is Start for hop 0 of a fetch and Continue for later hops.
func (s *Store) StartHop(ctx context.Context, r contracts.Run, fetchMsg string, hop int) (Run, error) {
	if hop == 0 {
		return s.Start(ctx, r, fetchMsg)
	}
	return s.Continue(ctx, r, fetchMsg, hop)
}

// restart runs the fetch of message fetchMsg again as the next attempt,
// after op (a start or a continuation of it) found the run as cur: only a
// RUNNING run of the same fetch message restarts, and only once its lease
// has expired or its try yielded; a live try gets a retryable error that
// asks to come back when the lease ends. Anything else is op fenced.
func (s *Store) restart(ctx context.Context, op string, r contracts.Run, fetchMsg string, cur Run, now time.Time) (Run, error) {
	if cur.RunID != r.RunID || cur.FetchMessage != fetchMsg || cur.Status != Running {
		return Run{}, fenced(op, r, cur)
	}
	if cur.LeaseUntil >= now.Unix() && !cur.Yielded {
		wait := cur.LeaseExpiry().Sub(now) + time.Second
		return Run{}, fault.RetryAfter(&LeaseHeldError{Input: r.Key(), Attempt: cur.Attempt, Until: cur.LeaseExpiry(), Owner: cur.Owner}, wait)
	}
	return s.nextAttempt(ctx, r, fetchMsg, now, "run_id = :rid AND fetch_msg = :mid AND #st = :running AND (lease_until < :now OR yielded = :true)",
		map[string]types.AttributeValue{":now": num(now.Unix()), ":true": &types.AttributeValueMemberBOOL{Value: true}},
		classLeaseExpired, "lease expired; the fetch restarted as a new attempt")
}

// Restart begins the fetch again from the first page as the next
// attempt, for the invocation of fetch message fetchMsg that holds attempt
// r's RUNNING run (it has just started or continued it) and found that it
// cannot go on from where the attempt stands — a checkpoint cut under
// another config. The batches written so far are forgotten and every
// write of attempt r is fenced from then on, as in a restart after a
// crash; the history keeps attempt r ABANDONED with class "restarted" and
// why. The returned run carries the attempt to use.
func (s *Store) Restart(ctx context.Context, r contracts.Run, fetchMsg, why string) (Run, error) {
	return s.nextAttempt(ctx, r, fetchMsg, s.now().UTC(), "attempt = :attempt AND fetch_msg = :mid AND #st = :running AND run_id = :rid", nil, classRestarted, why)
}

// nextAttempt moves the RUNNING run of fetch message fetchMsg to the next
// attempt, clean, when cond (over the values of the update and values)
// holds; the earlier attempt goes into the history ABANDONED with class
// and why.
func (s *Store) nextAttempt(ctx context.Context, r contracts.Run, fetchMsg string, now time.Time, cond string, values map[string]types.AttributeValue, class, why string) (Run, error) {
	want := Run{RunID: r.RunID, FetchMessage: fetchMsg, StartedAt: now.Format(time.RFC3339Nano), Owner: s.cfg.Owner}
	vals := map[string]types.AttributeValue{
		":running": str(string(Running)), ":mid": str(fetchMsg), ":rid": str(r.RunID), ":one": num(1),
		":lease": num(now.Add(s.cfg.Lease).Unix()), ":owner": str(s.cfg.Owner),
		":at": str(want.StartedAt), ":zero": num(0),
	}
	for k, v := range values {
		vals[k] = v
	}
	run, applied, err := s.tryUpdate(ctx, opRestart, r,
		"SET attempt = attempt + :one, lease_until = :lease, #owner = :owner, started_at = :at, rev = if_not_exists(rev, :zero) + :one REMOVE written, batches_expected, checkpoint, hops, taken, yielded, fetched",
		cond, vals, "owner")
	if err != nil {
		return Run{}, err
	}
	if !applied && !retried(opRestart, run, want) {
		return Run{}, fenced(opRestart, r, run)
	}
	s.bestEffort(ctx, s.logTakeover(ctx, run, now, class, why))
	return run, nil
}

// Yield records that the attempt's fetch try ended with a retryable error:
// nothing works on it until its message comes back, and then the restart
// need not wait for the lease to run out. The lease itself stays, so no
// other trigger takes the input while the message is retried.
// Only the invocation of fetch message fetchMsg can yield: a try that
// lost its message to a newer hop or a restart changes nothing.
func (s *Store) Yield(ctx context.Context, r contracts.Run, fetchMsg string) error {
	_, err := s.update(ctx, "yield", r, "SET yielded = :true", "attempt = :attempt AND #st = :running AND fetch_msg = :mid",
		map[string]types.AttributeValue{
			":running": str(string(Running)), ":true": &types.AttributeValueMemberBOOL{Value: true}, ":mid": str(fetchMsg),
		})
	return err
}

// Fetched records that the attempt's fetch finished: the invocation of
// fetch message fetchMsg is sending the Done. The sweep leaves such a run
// alone (its batches are queued for the writer, whose counts renew the
// lease; a batch that dies reaches the DLQ). A restart of the fetch
// forgets it. Only the invocation of fetchMsg can record it.
func (s *Store) Fetched(ctx context.Context, r contracts.Run, fetchMsg string) error {
	_, err := s.update(ctx, "fetched", r, "SET fetched = :true", "attempt = :attempt AND #st = :running AND fetch_msg = :mid",
		map[string]types.AttributeValue{
			":running": str(string(Running)), ":true": &types.AttributeValueMemberBOOL{Value: true}, ":mid": str(fetchMsg),
		})
	return err
}

// Heartbeat renews the run's lease and returns its new expiry.
func (s *Store) Heartbeat(ctx context.Context, r contracts.Run) (time.Time, error) {
	until := s.now().Add(s.cfg.Lease)
	_, err := s.update(ctx, "heartbeat", r, "SET lease_until = :lease", "attempt = :attempt AND #st IN (:claimed, :running)",
		map[string]types.AttributeValue{
			":running": str(string(Running)), ":claimed": str(string(Claimed)),
			":lease": num(until.Unix()),
		})
	return time.Unix(until.Unix(), 0), err
}

// Checkpoint records where a fetch stopped to hand over to a new
// invocation (hop hops so far, state the page state to resume from) and
// renews the lease. The next invocation calls Continue with hop+1.
func (s *Store) Checkpoint(ctx context.Context, r contracts.Run, hop int, state string) error {
	return s.CheckpointFor(ctx, r, hop, state, 0)
}

// CheckpointFor is Checkpoint for a continuation that comes only after
// wait (it waits out an API's Retry-After): the lease runs for wait and
// one lease more, so that no claim takes the input over while the
// continuation is on its way. A crashed continuation's input is free one
// lease after the wait.
func (s *Store) CheckpointFor(ctx context.Context, r contracts.Run, hop int, state string, wait time.Duration) error {
	run, applied, err := s.tryUpdate(ctx, opCheckpoint, r, "SET checkpoint = :cp, hops = :next, lease_until = :lease",
		"attempt = :attempt AND #st = :running AND (attribute_not_exists(hops) OR hops = :hop)",
		map[string]types.AttributeValue{
			":running": str(string(Running)), ":cp": str(state), ":hop": num(int64(hop)), ":next": num(int64(hop + 1)),
			":lease": num(s.now().Add(max(wait, 0) + s.cfg.Lease).Unix()),
		})
	if err != nil || applied {
		return err
	}
	if retried(opCheckpoint, run, Run{Attempt: r.Attempt, Status: Running, Hops: hop + 1, Checkpoint: state}) {
		return nil
	}
	return fenced(opCheckpoint, r, run)
}
