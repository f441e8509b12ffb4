package runs

// Operations whose own write the store recognises after a retry.
const (
	opStart      = "start"
	opContinue   = "continue"
	opRestart    = "restart"
	opCheckpoint = "checkpoint"
)

// retried reports whether cur, the run as it stands after op's condition
// failed, is op's own write: the SDK resent a request whose first try took
// effect but whose response was lost, and the resend's condition failed on
// that very write. want holds what op writes; only the fields that make
// op's write unique are compared, so a newer write by anyone else — a
// later stamp, another message, another owner — is never taken for ours.
func retried(op string, cur, want Run) bool {
	switch op {
	case opStart:
		return cur.Attempt == want.Attempt && cur.FetchMessage == want.FetchMessage &&
			cur.StartedAt == want.StartedAt && cur.Owner == want.Owner
	case opContinue:
		return cur.Attempt == want.Attempt && cur.FetchMessage == want.FetchMessage && cur.Taken == want.Taken &&
			cur.LeaseUntil == want.LeaseUntil && cur.Owner == want.Owner
	case opRestart:
		return cur.RunID == want.RunID && cur.FetchMessage == want.FetchMessage &&
			cur.StartedAt == want.StartedAt && cur.Owner == want.Owner
	case opCheckpoint:
		return cur.Attempt == want.Attempt && cur.Status == Running && cur.Hops == want.Hops && cur.Checkpoint == want.Checkpoint
	}
	return false
}
