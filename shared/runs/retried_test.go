package runs

import "testing"

func TestRetried(t *testing.T) {
	start := Run{Attempt: 2, FetchMessage: "f-1", StartedAt: "2026-11-24T12:00:00.5Z", Owner: "w-1"}
	cont := Run{Attempt: 2, FetchMessage: "f-2", Taken: 1, LeaseUntil: 1700000060, Owner: "w-1"}
	restart := Run{RunID: "r-1", FetchMessage: "f-1", StartedAt: "2026-11-24T12:00:05Z", Owner: "w-1"}
	checkpoint := Run{Attempt: 2, Status: Running, Hops: 1, Checkpoint: `{"page":{"page":7}}`}
	with := func(r Run, change func(*Run)) Run { change(&r); return r }
	tests := []struct {
		name string
		op   string
		cur  Run // the run as the failed condition found it
		want Run // what op writes
		ours bool
	}{
		{"start: our write", opStart, with(start, func(r *Run) { r.Status, r.Rev = Running, 2 }), start, true},
		{"start: another message started it", opStart, with(start, func(r *Run) { r.FetchMessage = "f-9" }), start, false},
		{"start: an earlier start of the same message", opStart, with(start, func(r *Run) { r.StartedAt = "2026-11-24T11:00:00Z" }), start, false},
		{"start: another worker", opStart, with(start, func(r *Run) { r.Owner = "w-2" }), start, false},
		{"start: another attempt", opStart, with(start, func(r *Run) { r.Attempt = 3 }), start, false},
		{"start: no run", opStart, Run{}, start, false},
		{"continue: our write", opContinue, with(cont, func(r *Run) { r.Status, r.Hops = Running, 1 }), cont, true},
		{"continue: an earlier take of the hop", opContinue, with(cont, func(r *Run) { r.LeaseUntil -= 5 }), cont, false},
		{"continue: another hop", opContinue, with(cont, func(r *Run) { r.Taken = 2 }), cont, false},
		{"continue: another message", opContinue, with(cont, func(r *Run) { r.FetchMessage = "f-1" }), cont, false},
		{"continue: another worker", opContinue, with(cont, func(r *Run) { r.Owner = "w-2" }), cont, false},
		{"continue: another attempt", opContinue, with(cont, func(r *Run) { r.Attempt = 3 }), cont, false},
		{"restart: our write", opRestart, with(restart, func(r *Run) { r.Attempt, r.Status = 3, Running }), restart, true},
		{"restart: an earlier restart", opRestart, with(restart, func(r *Run) { r.StartedAt = "2026-11-24T12:00:00Z" }), restart, false},
		{"restart: another run", opRestart, with(restart, func(r *Run) { r.RunID = "r-2" }), restart, false},
		{"restart: another message", opRestart, with(restart, func(r *Run) { r.FetchMessage = "f-2" }), restart, false},
		{"restart: another worker", opRestart, with(restart, func(r *Run) { r.Owner = "w-2" }), restart, false},
		{"checkpoint: our write", opCheckpoint, with(checkpoint, func(r *Run) { r.LeaseUntil = 1700000060 }), checkpoint, true},
		{"checkpoint: another state", opCheckpoint, with(checkpoint, func(r *Run) { r.Checkpoint = "{}" }), checkpoint, false},
		{"checkpoint: a later hop", opCheckpoint, with(checkpoint, func(r *Run) { r.Hops = 2 }), checkpoint, false},
		{"checkpoint: the run is no longer running", opCheckpoint, with(checkpoint, func(r *Run) { r.Status = Failed }), checkpoint, false},
		{"checkpoint: another attempt", opCheckpoint, with(checkpoint, func(r *Run) { r.Attempt = 3 }), checkpoint, false},
		{"an operation that is never retried", "heartbeat", start, start, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := retried(tt.op, tt.cur, tt.want); got != tt.ours {
				t.Fatalf("retried(%s) = %v, want %v", tt.op, got, tt.ours)
			}
		})
	}
}
