package runs

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sluice-data/sluice/shared/contracts"
)

// BatchWritten records that batch seq of the run is stored and renews the
// lease, and returns the run as it now stands. It is idempotent: the batch
// numbers are a set. A run its attempt is already committing (a commit
// interrupted by a crash or a timeout) is returned as it stands, with a nil
// error: the caller may help finish the commit (see BeginCommit).
func (s *Store) BatchWritten(ctx context.Context, r contracts.Run, seq int) (Run, error) {
	run, applied, err := s.renewing(ctx, "mark batch written", r, "", "written :seq",
		map[string]types.AttributeValue{":seq": &types.AttributeValueMemberNS{Value: []string{strconv.Itoa(seq)}}})
	return committingOr(run, applied, err, "mark batch written", r)
}

// SetTotals records how many batches, records and bytes the run produced,
// and returns the run as it now stands; a run its attempt is already
// committing is returned as BatchWritten returns it.
func (s *Store) SetTotals(ctx context.Context, r contracts.Run, batches int, records, bytes int64) (Run, error) {
	run, applied, err := s.renewing(ctx, "set totals", r, "batches_expected = :n, #records = :records, #bytes = :bytes", "",
		map[string]types.AttributeValue{":n": num(int64(batches)), ":records": num(records), ":bytes": num(bytes)}, "records", "bytes")
	return committingOr(run, applied, err, "set totals", r)
}

// renewing is a writer's update of r's RUNNING run — the SET and ADD
// clauses' actions set and add (either may be empty) — that renews the
// lease to one from now, but never shortens it: a stopped fetch's
// checkpoint holds it over the source's wait (CheckpointFor), and the
// batches its hop sent are counted during that wait. The second write,
// without the renewal, is made only when the first found the lease held
// longer.
func (s *Store) renewing(ctx context.Context, op string, r contracts.Run, set, add string, values map[string]types.AttributeValue, names ...string) (Run, bool, error) {
	lease := s.now().Add(s.cfg.Lease).Unix()
	values[":running"], values[":lease"] = str(string(Running)), num(lease)
	cond := "attempt = :attempt AND #st = :running"
	update := func(set string) string {
		var u []string
		if set != "" {
			u = append(u, "SET "+set)
		}
		if add != "" {
			u = append(u, "ADD "+add)
		}
		return strings.Join(u, " ")
	}
	renew := "lease_until = :lease"
	if set != "" {
		renew = set + ", " + renew
	}
	run, applied, err := s.tryUpdate(ctx, op, r, update(renew), cond+" AND (attribute_not_exists(lease_until) OR lease_until < :lease)", values, names...)
	if err != nil || applied || run.Attempt != r.Attempt || run.Status != Running || run.LeaseUntil < lease {
		return run, applied, err
	}
	return s.tryUpdate(ctx, op, r, update(set), cond+" AND lease_until >= :lease", values, names...)
}

// committingOr is the outcome of a writer's update: the run as changed, or
// as it stands when r's attempt is committing it, or op fenced.
func committingOr(run Run, applied bool, err error, op string, r contracts.Run) (Run, error) {
	switch {
	case err != nil:
		return Run{}, err
	case applied || (run.Attempt == r.Attempt && run.Status == Committing):
		return run, nil
	}
	return Run{}, fenced(op, r, run)
}

// BeginCommit moves the run to COMMITTING if, and only if, its attempt is
// current, it is RUNNING, and every expected batch is written: the one
// decision that the attempt's output is the input's output. won is true
// for the single caller that made the move; a caller that finds the run
// already COMMITTING by the same attempt (a continuation, a redelivery)
// renews its lease (RenewCommit), gets the run and won == false, and may
// help finish the commit (publishing is idempotent).
func (s *Store) BeginCommit(ctx context.Context, r contracts.Run) (run Run, won bool, err error) {
	now := s.now().UTC()
	run, won, err = s.tryUpdate(ctx, "begin commit", r,
		"SET #st = :committing, lease_until = :lease, rev = if_not_exists(rev, :zero) + :one",
		"attempt = :attempt AND #st = :running AND (batches_expected = :zero OR size(written) = batches_expected)",
		map[string]types.AttributeValue{
			":running": str(string(Running)), ":committing": str(string(Committing)), ":zero": num(0), ":one": num(1),
			":lease": num(now.Add(s.cfg.Lease).Unix()),
		})
	switch {
	case err != nil:
		return Run{}, false, err
	case won:
		return run, true, nil
	case run.Attempt == r.Attempt && run.Status == Committing:
		run, err = s.RenewCommit(ctx, r)
		return run, false, err
	}
	return Run{}, false, fenced("begin commit", r, run)
}

// RenewCommit renews the lease of r's COMMITTING run to one from now, and
// returns the run: a commit that keeps working (its compaction continued
// over several invocations) is never taken over by a sweep or a claim.
// Fenced unless r's attempt is COMMITTING.
func (s *Store) RenewCommit(ctx context.Context, r contracts.Run) (Run, error) {
	return s.update(ctx, "renew commit", r, "SET lease_until = :lease", "attempt = :attempt AND #st = :committing",
		map[string]types.AttributeValue{":committing": str(string(Committing)), ":lease": num(s.now().Add(s.cfg.Lease).Unix())})
}

// SetSchema records on a COMMITTING run the fingerprint of the schema its
// files are published with and, when it differs from the schema the
// source's files had before, change (what it was, where): FinishCommit
// then writes it into the attempt's history, which `sluicectl runs
// <input>` shows. Fenced unless r's attempt is COMMITTING.
func (s *Store) SetSchema(ctx context.Context, r contracts.Run, fingerprint, change string) error {
	_, err := s.update(ctx, "set schema", r, "SET #schema = :fp, schema_change = :change", "attempt = :attempt AND #st = :committing",
		map[string]types.AttributeValue{":committing": str(string(Committing)), ":fp": str(fingerprint), ":change": str(change)}, "schema")
	return err
}

// FinishCommit marks a COMMITTING run SUCCEEDED once its output is
// published. Finishing a run this attempt already finished is not an
// error; finished is true only for the call that moved it to SUCCEEDED,
// so that exactly one caller reports the run's success whichever
// invocation completes its commit.
func (s *Store) FinishCommit(ctx context.Context, r contracts.Run, objects int) (finished bool, err error) {
	now := s.now().UTC()
	run, applied, err := s.tryUpdate(ctx, "finish commit", r,
		"SET #st = :succeeded, finished_at = :at, objects = :objects, rev = if_not_exists(rev, :zero) + :one REMOVE lease_until, checkpoint, "+ended,
		"attempt = :attempt AND #st = :committing",
		map[string]types.AttributeValue{
			":committing": str(string(Committing)), ":succeeded": str(string(Succeeded)), ":one": num(1), ":zero": num(0),
			":at": str(now.Format(time.RFC3339Nano)), ":objects": num(int64(objects)),
		})
	switch {
	case err != nil:
		return false, err
	case !applied && run.Attempt == r.Attempt && run.Status == Succeeded:
		return false, nil // finished already, by an earlier try of this commit
	case !applied:
		return false, fenced("finish commit", r, run)
	}
	s.bestEffort(ctx, s.logAttempt(ctx, run, now))
	return true, nil
}
