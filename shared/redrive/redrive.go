// Package redrive holds the rules for a message in a dead-letter queue:
// which run it belongs to, the Input that takes that run up again, and
// whether the run still needs it. `sluicectl redrive` and the scheduler's
// sweep follow the same rules, so that neither deletes a message the
// other would keep.
package redrive

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tidwall/gjson"

	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/runs"
)

// InputFor returns the Input that reruns the run a fetch-queue or
// batches-queue message belongs to (trigger redrive), checked as dedupe
// will check it, and the message's attempt (0 when a damaged body names
// none).
func InputFor(body []byte) (contracts.Input, int, error) {
	source, window, attempt, err := RunOf(body)
	if err != nil {
		return contracts.Input{}, 0, err
	}
	in := contracts.NewInput(source, window, contracts.TriggerRedrive, false)
	b, err := json.Marshal(in)
	if err != nil {
		return contracts.Input{}, 0, err
	}
	in, err = contracts.DecodeInput(b)
	return in, attempt, err
}

// RunOf reads the source, window and attempt of a Fetch, Batch or Done
// body. A body that does not fully decode (a damaged payload, an unknown
// field) still names its run if it has the two top-level fields.
func RunOf(body []byte) (source, window string, attempt int, err error) {
	if run, err := decodeRun(body); err == nil {
		return run.Source, run.Window, run.Attempt, nil
	}
	if !gjson.ValidBytes(body) {
		return "", "", 0, errors.New("not JSON")
	}
	f := gjson.GetManyBytes(body, "source", "window", "attempt")
	if f[0].Type != gjson.String || f[1].Type != gjson.String {
		return "", "", 0, errors.New("no source and window")
	}
	if f[2].Type == gjson.Number && f[2].Num >= 1 && f[2].Num == float64(int(f[2].Num)) {
		attempt = int(f[2].Num)
	}
	return f[0].Str, f[1].Str, attempt, nil
}

// decodeRun decodes a Fetch, Batch or Done body strictly and returns its run.
func decodeRun(body []byte) (contracts.Run, error) {
	kind, err := contracts.Kind(body)
	if err != nil {
		return contracts.Run{}, err
	}
	switch kind {
	case contracts.KindFetch:
		f, err := contracts.DecodeFetch(body)
		return f.Run, err
	case contracts.KindBatch:
		b, err := contracts.DecodeBatch(body)
		return b.Run, err
	case contracts.KindDone:
		d, err := contracts.DecodeDone(body)
		return d.Run, err
	}
	return contracts.Run{}, fmt.Errorf("message kind %q carries no run", kind)
}

// Superseded reports whether the input no longer needs parked message id
// of attempt (0: the message names none) now that its run stands as r: the
// input SUCCEEDED, or an attempt newer than the message's has claimed it
// and is open (working, or dead and due to be taken up) — a newer attempt
// that this very message restarted (a redelivered fetch restarts its run
// as the next attempt: r.FetchMessage is id) does not count; id is the
// message's original id (consumer.OriginalID), which a parked copy keeps. It is the
// only ground on which a parked message may be deleted. A FAILED run needs
// its messages, whichever attempt they name: they are what a person
// redrives.
func Superseded(r runs.Run, attempt int, id string) bool {
	return r.Status == runs.Succeeded || (attempt > 0 && r.Attempt > attempt && r.Status.Live() && r.FetchMessage != id)
}
