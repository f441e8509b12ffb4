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
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

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

// Trigger asks the scheduler to expand the pipeline into inputs. With From
// and To set it covers every window starting in [From, To); without them it
// covers the latest complete window of each source before At.
type Trigger struct {
	V       int       `json:"v"`
	Kind    string    `json:"kind"`
	Sources []string  `json:"sources,omitempty"` // empty: every source
	From    time.Time `json:"from,omitzero"`
	To      time.Time `json:"to,omitzero"`
	At      time.Time `json:"at,omitzero"`
	Trigger string    `json:"trigger"`
	Force   bool      `json:"force,omitempty"`
}

// Input is one unit of work: one source over one partition window.
type Input struct {
	V       int    `json:"v"`
	Kind    string `json:"kind"`
	Source  string `json:"source"`
	Window  string `json:"window"` // partition key, e.g. 2026-11-01 or 2026-11-01T13
	Trigger string `json:"trigger"`
	Force   bool   `json:"force,omitempty"`
	// ForceID names a forced rerun request, so that copies of one request
	// rerun a SUCCEEDED input once. Without it, each message is its own
	// request.
	ForceID string `json:"force_id,omitempty"`
}

// Key identifies the input across services: "<source>/<window>".
func (in Input) Key() string { return InputKey(in.Source, in.Window) }

// InputKey is the key of the input for source and window.
func InputKey(source, window string) string { return source + "/" + window }

// Run identifies one attempt at one input. Every message after the claim
// carries it; Attempt is the fencing token.
type Run struct {
	Source  string `json:"source"`
	Window  string `json:"window"`
	RunID   string `json:"run_id"`
	Attempt int    `json:"attempt"`
}

// Key is the input key of the run.
func (r Run) Key() string { return InputKey(r.Source, r.Window) }

// Fetch tells the fetcher to page through the run's input.
type Fetch struct {
	V    int    `json:"v"`
	Kind string `json:"kind"`
	Run
	Trigger string `json:"trigger"`
	// Hop numbers the invocations of one fetch: 0 for the first, n for the
	// n-th continuation of a fetch that handed over before its deadline.
	// The page state to continue from is in the run record, written by the
	// attempt that handed over, never in the message.
	Hop int `json:"hop,omitempty"`
}

// EncodingGzipJSONL is the only Batch payload encoding: the records as JSON
// Lines (one raw record per line, each line ending in "\n"), compressed as
// one gzip member, carried base64-encoded in the message body.
//
// Compressing in the fetcher puts 4–8 times more records in each 1 MiB
// message, lets the writer store the bytes as they are (the object in S3 is
// this gzip stream), and base64 keeps any byte an API sends — including
// characters SQS refuses in a message body — out of SQS's way.
const EncodingGzipJSONL = "gzip-jsonl"

// Batch carries consecutive records of one run: Data is the
// gzip-compressed JSON Lines of Count records, RawBytes long before
// compression (see EncodingGzipJSONL). Its body is this struct encoded
// with encoding/json; package pack builds the payload and checks it.
type Batch struct {
	V    int    `json:"v"`
	Kind string `json:"kind"`
	Run
	Seq      int    `json:"seq"`
	Count    int    `json:"count"`
	RawBytes int64  `json:"raw_bytes"`
	Encoding string `json:"encoding"`
	Data     []byte `json:"data"` // base64 in the JSON body
}

// Done tells the writer how many batches the run produced, so that whoever
// writes the last one commits the run.
type Done struct {
	V    int    `json:"v"`
	Kind string `json:"kind"`
	Run
	Batches int   `json:"batches"`
	Records int64 `json:"records"`
	Bytes   int64 `json:"bytes"`
}

// NewTrigger, NewInput, … fill in the version and kind.

// NewInput returns a valid-shaped Input message. A forced input may also
// carry a ForceID.
func NewInput(source, window, trigger string, force bool) Input {
	return Input{V: Version, Kind: KindInput, Source: source, Window: window, Trigger: trigger, Force: force}
}

// NewFetch returns the Fetch message for run.
func NewFetch(run Run, trigger string) Fetch {
	return Fetch{V: Version, Kind: KindFetch, Run: run, Trigger: trigger}
}

// NewContinuation returns the Fetch message that continues run's fetch as
// hop hop.
func NewContinuation(run Run, trigger string, hop int) Fetch {
	return Fetch{V: Version, Kind: KindFetch, Run: run, Trigger: trigger, Hop: hop}
}

// NewBatch returns batch seq of run, holding count records of rawBytes
// bytes as the gzip JSON Lines data.
func NewBatch(run Run, seq, count int, rawBytes int64, data []byte) Batch {
	return Batch{V: Version, Kind: KindBatch, Run: run, Seq: seq, Count: count, RawBytes: rawBytes, Encoding: EncodingGzipJSONL, Data: data}
}

// NewDone returns the Done message for run.
func NewDone(run Run, batches int, records, bytes int64) Done {
	return Done{V: Version, Kind: KindDone, Run: run, Batches: batches, Records: records, Bytes: bytes}
}

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

// DecodeTrigger decodes and validates a Trigger.
func DecodeTrigger(body []byte) (Trigger, error) {
	var t Trigger
	if err := decode(body, KindTrigger, &t); err != nil {
		return t, err
	}
	var errs []error
	for i, s := range t.Sources {
		if !sourceName.MatchString(s) {
			errs = append(errs, fmt.Errorf("sources[%d]: invalid source name %s", i, quote(s)))
		}
	}
	if t.From.IsZero() != t.To.IsZero() {
		errs = append(errs, errors.New("from and to go together"))
	}
	if !t.From.IsZero() && !t.From.Before(t.To) {
		errs = append(errs, fmt.Errorf("from %s is not before to %s", t.From.Format(time.RFC3339), t.To.Format(time.RFC3339)))
	}
	errs = append(errs, checkTrigger(t.Trigger))
	return t, invalid(KindTrigger, errs)
}

// DecodeInput decodes and validates an Input.
func DecodeInput(body []byte) (Input, error) {
	var in Input
	if err := decode(body, KindInput, &in); err != nil {
		return in, err
	}
	errs := []error{checkSource(in.Source), checkWindow(in.Window), checkTrigger(in.Trigger)}
	if len(in.ForceID) > 128 {
		errs = append(errs, fmt.Errorf("force_id: %d bytes, want at most 128", len(in.ForceID)))
	}
	return in, invalid(KindInput, errs)
}

// DecodeFetch decodes and validates a Fetch.
func DecodeFetch(body []byte) (Fetch, error) {
	var f Fetch
	if err := decode(body, KindFetch, &f); err != nil {
		return f, err
	}
	errs := append(checkRun(f.Run), checkTrigger(f.Trigger))
	if f.Hop < 0 {
		errs = append(errs, fmt.Errorf("hop: %d is negative", f.Hop))
	}
	return f, invalid(KindFetch, errs)
}

// DecodeBatch decodes and validates a Batch.
func DecodeBatch(body []byte) (Batch, error) {
	var b Batch
	if err := decode(body, KindBatch, &b); err != nil {
		return b, err
	}
	errs := checkRun(b.Run)
	if b.Seq < 0 {
		errs = append(errs, fmt.Errorf("seq: %d is negative", b.Seq))
	}
	if b.Encoding != EncodingGzipJSONL {
		errs = append(errs, fmt.Errorf("encoding: %q, want %q", b.Encoding, EncodingGzipJSONL))
	}
	if len(b.Data) == 0 {
		errs = append(errs, errors.New("data: missing"))
	}
	if b.Count <= 0 || b.RawBytes < int64(2*b.Count) {
		errs = append(errs, fmt.Errorf("count %d / raw_bytes %d: want count > 0 and at least 2 bytes per record", b.Count, b.RawBytes))
	}
	return b, invalid(KindBatch, errs)
}

// DecodeDone decodes and validates a Done.
func DecodeDone(body []byte) (Done, error) {
	var d Done
	if err := decode(body, KindDone, &d); err != nil {
		return d, err
	}
	errs := checkRun(d.Run)
	if d.Batches < 0 || d.Records < 0 || d.Bytes < 0 {
		errs = append(errs, errors.New("batches, records and bytes must not be negative"))
	}
	return d, invalid(KindDone, errs)
}

// fields lists, per kind, the required and then the optional top-level
// keys, read from the json tags of the message structs so that the wire
// format is written down once. Keys are matched exactly: encoding/json
// alone would accept "SOURCE" for "source", take the last of two "kind"
// keys where Kind took the first, and read a missing number as 0 — a Done
// with no "batches" would commit an empty run.
var fields = map[string][2][]string{
	KindTrigger: keysOf(reflect.TypeFor[Trigger]()),
	KindInput:   keysOf(reflect.TypeFor[Input]()),
	KindFetch:   keysOf(reflect.TypeFor[Fetch]()),
	KindBatch:   keysOf(reflect.TypeFor[Batch]()),
	KindDone:    keysOf(reflect.TypeFor[Done]()),
}

// keysOf returns the required and the optional JSON keys of struct type t,
// in field order. A key is optional when its tag says omitempty or
// omitzero, since then an encoder may leave it out; an untagged embedded
// struct (Run) contributes its own keys.
func keysOf(t reflect.Type) [2][]string {
	var keys [2][]string
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if f.Anonymous && tag == "" {
			sub := keysOf(f.Type)
			keys[0], keys[1] = append(keys[0], sub[0]...), append(keys[1], sub[1]...)
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		optional := false
		for opt := range strings.SplitSeq(opts, ",") {
			optional = optional || opt == "omitempty" || opt == "omitzero"
		}
		if optional {
			keys[1] = append(keys[1], name)
		} else {
			keys[0] = append(keys[0], name)
		}
	}
	return keys
}

// checkKeys reports unknown, duplicate and missing top-level keys.
func checkKeys(body []byte, kind string) error {
	f := fields[kind]
	known := make(map[string]bool, len(f[0])+len(f[1]))
	for _, k := range append(append([]string(nil), f[0]...), f[1]...) {
		known[k] = true
	}
	seen := map[string]bool{}
	var errs []error
	gjson.ParseBytes(body).ForEach(func(key, _ gjson.Result) bool {
		k := key.String()
		switch {
		case !known[k]:
			errs = append(errs, fmt.Errorf("unknown field %s", quote(k)))
		case seen[k]:
			errs = append(errs, fmt.Errorf("duplicate field %s", quote(k)))
		}
		seen[k] = true
		return len(errs) < 5
	})
	for _, k := range f[0] {
		if !seen[k] {
			errs = append(errs, fmt.Errorf("missing field %q", k))
		}
	}
	return errors.Join(errs...)
}

// quote quotes a value from a message for an error, cut to 64 bytes: errors
// are logged, and message content must not reach the logs whole.
func quote(s string) string {
	if len(s) > 64 {
		return fmt.Sprintf("%q…(%d bytes)", s[:64], len(s))
	}
	return fmt.Sprintf("%q", s)
}

func decode(body []byte, kind string, v any) error {
	got, err := Kind(body)
	if err != nil {
		return fmt.Errorf("decode %s: %w", kind, err)
	}
	if got != kind {
		return fault.Permanentf("decode %s: message kind is %s", kind, quote(got))
	}
	if err := checkKeys(body, kind); err != nil {
		return fault.Permanentf("decode %s: %w", kind, err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fault.Permanentf("decode %s: %w", kind, err)
	}
	return nil
}

func invalid(kind string, errs []error) error {
	if err := errors.Join(errs...); err != nil {
		return fault.Permanentf("invalid %s message: %w", kind, err)
	}
	return nil
}

func checkSource(s string) error {
	if !sourceName.MatchString(s) {
		return fmt.Errorf("source: %s is not a source name ([a-z0-9_-]{1,64})", quote(s))
	}
	return nil
}

func checkWindow(w string) error {
	if !windowKey.MatchString(w) {
		return fmt.Errorf("window: %s is not a window key (YYYY-MM-DD or YYYY-MM-DDTHH)", quote(w))
	}
	return nil
}

func checkTrigger(t string) error {
	switch t {
	case TriggerSchedule, TriggerManual, TriggerRedrive, TriggerBackfill:
		return nil
	}
	return fmt.Errorf("trigger: %s, want %s, %s, %s or %s", quote(t), TriggerSchedule, TriggerManual, TriggerRedrive, TriggerBackfill)
}

func checkRun(r Run) []error {
	errs := []error{checkSource(r.Source), checkWindow(r.Window)}
	if r.RunID == "" {
		errs = append(errs, errors.New("run_id: missing"))
	}
	if r.Attempt < 1 {
		errs = append(errs, fmt.Errorf("attempt: %d, want >= 1", r.Attempt))
	}
	return errs
}
