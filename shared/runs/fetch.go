package runs

import (
	"context"
	"fmt"
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
	return s.StartHop(ctx, r, fetchMsg, 0)
}

// StartHop is Start for invocation hop of a fetch: hop 0 starts the run;
// hop n > 0 continues it from the checkpoint hop n-1 wrote (see
// Checkpoint) — only while the run is RUNNING as the same attempt, has
// handed over exactly n times, and no invocation has taken this
// continuation yet. A continuation message delivered again (its invocation
// died) restarts the fetch from scratch as the next attempt, like any
// fetch message delivered again: batches sent after the checkpoint cannot
// be trusted to come out the same.
func (s *Store) StartHop(ctx context.Context, r contracts.Run, fetchMsg string, hop int) (Run, error) {
	now := s.now().UTC()
	values := map[string]types.AttributeValue{
		":running": str(string(Running)), ":claimed": str(string(Claimed)), ":mid": str(fetchMsg),
		":at": str(now.Format(time.RFC3339Nano)), ":lease": num(now.Add(s.cfg.Lease).Unix()), ":owner": str(s.cfg.Owner),
		":zero": num(0), ":one": num(1),
	}
	var (
		run Run
		err error
	)
	if hop == 0 {
		run, err = s.update(ctx, "start", r,
			"SET #st = :running, started_at = :at, lease_until = :lease, fetch_msg = :mid, #owner = :owner, rev = if_not_exists(rev, :zero) + :one",
			"attempt = :attempt AND #st = :claimed", values, "owner")
		if cur, ok := CurrentOf(err); ok && cur.Attempt == r.Attempt && cur.FetchMessage == fetchMsg &&
			cur.StartedAt == now.Format(time.RFC3339Nano) && cur.Owner == s.cfg.Owner {
			run, err = cur, nil // our own update, applied by a request the SDK retried
		}
		if err == nil {
			s.bestEffort(ctx, s.logAttempt(ctx, run, now))
			return run, nil
		}
	} else {
		delete(values, ":claimed")
		delete(values, ":at")
		delete(values, ":zero")
		delete(values, ":one")
		values[":hop"] = num(int64(hop))
		run, err = s.update(ctx, "continue", r,
			"SET lease_until = :lease, fetch_msg = :mid, #owner = :owner, taken = :hop REMOVE yielded",
			"attempt = :attempt AND #st = :running AND hops = :hop AND (attribute_not_exists(taken) OR taken < :hop)", values, "owner")
		if cur, ok := CurrentOf(err); ok && cur.Attempt == r.Attempt && cur.FetchMessage == fetchMsg && cur.Taken == hop &&
			cur.LeaseUntil == now.Add(s.cfg.Lease).Unix() && cur.Owner == s.cfg.Owner {
			run, err = cur, nil // our own update, applied by a request the SDK retried
		}
		if err == nil {
			return run, nil
		}
	}
	cur, ok := CurrentOf(err)
	if !ok || cur.RunID != r.RunID || cur.FetchMessage != fetchMsg || cur.Status != Running {
		return Run{}, err
	}
	if cur.LeaseUntil >= now.Unix() && !cur.Yielded {
		wait := cur.LeaseExpiry().Sub(now) + time.Second
		return Run{}, fault.RetryAfter(fmt.Errorf("start %s: attempt %d of this fetch still holds the lease until %s (owner %s)",
			r.Key(), cur.Attempt, cur.LeaseExpiry().Format(time.RFC3339), cur.Owner), wait)
	}
	at := now.Format(time.RFC3339Nano)
	restart := map[string]types.AttributeValue{
		":running": str(string(Running)), ":mid": str(fetchMsg), ":rid": str(r.RunID), ":one": num(1),
		":lease": num(now.Add(s.cfg.Lease).Unix()), ":now": num(now.Unix()), ":owner": str(s.cfg.Owner),
		":at": str(at), ":zero": num(0), ":true": &types.AttributeValueMemberBOOL{Value: true},
	}
	run, err = s.update(ctx, "restart", r,
		"SET attempt = attempt + :one, lease_until = :lease, #owner = :owner, started_at = :at, rev = if_not_exists(rev, :zero) + :one REMOVE written, batches_expected, checkpoint, hops, taken, yielded",
		"run_id = :rid AND fetch_msg = :mid AND #st = :running AND (lease_until < :now OR yielded = :true)", restart, "owner")
	if cur, ok := CurrentOf(err); ok && cur.RunID == r.RunID && cur.FetchMessage == fetchMsg && cur.StartedAt == at && cur.Owner == s.cfg.Owner {
		run, err = cur, nil // our own restart, applied by a request the SDK retried
	}
	if err != nil {
		return Run{}, err
	}
	s.bestEffort(ctx, s.logTakeover(ctx, run, now, "lease expired; the fetch restarted as a new attempt"))
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
// renews the lease. The next invocation calls StartHop with hop+1.
func (s *Store) Checkpoint(ctx context.Context, r contracts.Run, hop int, state string) error {
	_, err := s.update(ctx, "checkpoint", r, "SET checkpoint = :cp, hops = :next, lease_until = :lease",
		"attempt = :attempt AND #st = :running AND (attribute_not_exists(hops) OR hops = :hop)",
		map[string]types.AttributeValue{
			":running": str(string(Running)), ":cp": str(state), ":hop": num(int64(hop)), ":next": num(int64(hop + 1)),
			":lease": num(s.now().Add(s.cfg.Lease).Unix()),
		})
	if cur, ok := CurrentOf(err); ok && cur.Attempt == r.Attempt && cur.Status == Running && cur.Hops == hop+1 && cur.Checkpoint == state {
		return nil // our own checkpoint, applied by a request the SDK retried
	}
	return err
}
