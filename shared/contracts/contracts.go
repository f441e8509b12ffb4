// Package contracts defines the versioned JSON messages that travel between
// Sluice's services, and decodes them strictly: an unknown version, an
// unknown or missing field, or a bad value is a permanent error, because no
// retry of the same bytes can ever succeed.
//
// Queue by queue:
//
//	triggers queue → Trigger  (scheduler: expand the pipeline into inputs)
//	inputs queue   → Input    (dedupe: claim the input)
//	fetch queue    → Fetch    (fetcher: page through the source)
//	batches queue  → Batch, Done (writer: store a batch; commit the run)
//
// A message names a source and a window only. It never carries a URL, host,
// header or credential: those come from the pipeline config, so a message
// injected by hand cannot point the fetcher anywhere else.
package contracts

import (
	"regexp"
	"strconv"

	"github.com/tidwall/gjson"

	"github.com/sluice-data/sluice/shared/fault"
)

// Version is the only message version this build reads and writes.
const Version = 1

// Message kinds.
const (
	KindTrigger = "trigger"
	KindInput   = "input"
	KindFetch   = "fetch"
	KindBatch   = "batch"
	KindDone    = "done"
)

// Trigger origins, recorded on the run.
const (
	TriggerSchedule = "schedule"
	TriggerManual   = "manual"
	TriggerRedrive  = "redrive"
	TriggerBackfill = "backfill"
)

var (
	sourceName = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)
	windowKey  = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2})?$`)
)

// Kind returns the version and kind of a message body without decoding it,
// so a consumer can dispatch. A body that is not a versioned Sluice message
// is a permanent error.
func Kind(body []byte) (string, error) {
	if !gjson.ValidBytes(body) {
		return "", fault.Permanentf("message is not valid JSON")
	}
	h := gjson.GetManyBytes(body, "v", "kind")
	if !h[0].Exists() {
		return "", fault.Permanentf("message has no version field \"v\"")
	}
	if h[0].Type != gjson.Number || h[0].Raw != strconv.Itoa(Version) {
		return "", fault.Permanentf("unsupported message version %.16s (this build reads v%d)", h[0].Raw, Version)
	}
	if h[1].Type != gjson.String || h[1].Str == "" {
		return "", fault.Permanentf("message has no kind")
	}
	return h[1].Str, nil
}
