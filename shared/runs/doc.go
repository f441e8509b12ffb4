// Package runs keeps the state of every input's current run in DynamoDB, and
// makes the run the single place where "is this input being worked on, by
// whom, and is it done?" is decided — with conditional writes only, so that
// concurrent services can never both believe they own an input.
//
// One item per input (pk = "<source>/<window>", sk = "RUN") holds the
// current run: its status, its attempt number (the fencing token every later
// write is conditioned on, monotonic for the life of the input), its owner
// and its lease expiry in epoch seconds (lease_until). One item per attempt
// (sk = "ATTEMPT#<n>") keeps the history that `sluicectl runs <input>` shows;
// those items carry the table's TTL attribute (expires_at), the run item
// never does, so TTL can only ever remove history — an expired lease is
// made free by the claim condition, not by deletion (DynamoDB Local never
// deletes expired items and AWS can take days).
//
// A claim succeeds when there is no run, when the current run's lease has
// expired (CLAIMED, RUNNING or COMMITTING with lease_until in the past), when
// the last run FAILED, or when a forced trigger reruns a SUCCEEDED input
// (once per force id, so a duplicated forced trigger still runs once). A
// plain trigger never reruns a SUCCEEDED input.
//
// Lifecycle of an attempt:
//
//	Claim      → CLAIMED     (dedupe; lease starts)
//	Start      → RUNNING     (fetcher, by exactly one fetch message; a
//	                          redelivery of that message after the lease
//	                          expired restarts the fetch as the next attempt)
//	Checkpoint, Continue: a fetch hands over to its next invocation
//	                          (the same attempt, RUNNING throughout)
//	Restart                  (fetcher: the fetch begins again from the
//	                          first page as the next attempt, when a
//	                          continuation cannot trust its checkpoint)
//	Fetched                  (fetcher, before its Done: the fetch finished;
//	                          the sweep leaves the run to its batches)
//	Heartbeat, BatchWritten, SetTotals renew the lease
//	BeginCommit→ COMMITTING  (writer; exactly one party, when every batch
//	                          0…n-1 is written and n is known)
//	FinishCommit→ SUCCEEDED  (after the output is published)
//	Fail / Release → FAILED  (the input is free at once; neither touches a
//	                          COMMITTING run, which may be published)
//	FailCommit → FAILED      (a commit its committer saw is not published)
//	TakeUp                   (the scheduler's sweep, on a fetch in progress
//	                          or a commit whose lease expired: counts a
//	                          take-up, for the sweep to re-send the input
//	                          as a take-up claim; past the budget, once the
//	                          last take-up's claim came → FAILED, class
//	                          crashed)
//
// An open run (CLAIMED, RUNNING, COMMITTING) carries lease_open, which
// the claim sets and every end removes: the sparse index OpenIndex over it,
// sorted by lease_until, is how Expired finds runs whose worker died
// without a scan (the query filters out CLAIMED and fetched runs).
//
// A claim numbers its attempt above ClaimRequest.Floor too — the highest
// attempt the bucket already holds — so that a lost, replaced or restored
// run item never makes attempts begin again below what was published.
//
// Outcomes are return values: a write that finds the run in a state it
// may go on from (BeginCommit joining a commit its attempt decided,
// BatchWritten finding its attempt COMMITTING) returns that run with a nil
// error, and a *FencedError (ErrFenced) always means stop and change
// nothing. A write the SDK retried after its first try took effect is
// recognised as the store's own (see retried), not taken for a fence.
//
// Package runstest holds the contract suite every store passes and an
// in-memory store for the services' tests.
package runs
