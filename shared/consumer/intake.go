package consumer

import (
	"context"
	"sync/atomic"
)

// Intake is what a transport tells its handlers of the messages it can
// still hand to them. The Lambda transport handles only its event's
// records, one invocation at a time: no message but those records can
// reach this process's handlers until the invocation answers, so a
// handler waiting for another message knows it cannot come once every
// record not finished is waiting too. The poller has none: it receives
// again whenever a worker is free.
type Intake struct {
	unfinished atomic.Int64 // records of the event not finished: running or still to start
}

type intakeKey struct{}

// withIntake returns ctx carrying in, for IntakeOf.
func withIntake(ctx context.Context, in *Intake) context.Context {
	return context.WithValue(ctx, intakeKey{}, in)
}

// IntakeOf returns the Intake of the transport handling ctx's message;
// nil if it has none (the poller).
func IntakeOf(ctx context.Context) *Intake {
	in, _ := ctx.Value(intakeKey{}).(*Intake)
	return in
}

// Unfinished is how many messages the transport holds that are not
// finished — being handled (the caller's own included, until its handler
// returns), or still to start — and ok false if it is not bounded (a nil
// Intake: the poller).
func (in *Intake) Unfinished() (n int, ok bool) {
	if in == nil {
		return 0, false
	}
	return int(in.unfinished.Load()), true
}
