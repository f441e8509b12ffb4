package contracts

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/sluice-data/sluice/shared/fault"
)

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
	b, ok := scanBatch(body)
	if !ok {
		b = Batch{}
		if err := decode(body, KindBatch, &b); err != nil {
			return b, err
		}
		// encoding/json reads a null as the pointer's nil, as if the
		// field were absent; a fetcher sends a number or nothing.
		if b.CRC32C == nil && gjson.GetBytes(body, "crc32c").Exists() {
			return b, invalid(KindBatch, []error{errors.New("crc32c: null, want a number from 0 to 4294967295")})
		}
	}
	return b, checkBatch(b)
}

// DecodeBatchOrDone decodes and validates the message a batches queue
// carries: a Batch or a Done, said by kind. A batch as the fetcher sends it
// is read in one pass, without Kind's reading of it first.
func DecodeBatchOrDone(body []byte) (kind string, b Batch, d Done, err error) {
	if b, ok := scanBatch(body); ok {
		return KindBatch, b, d, checkBatch(b)
	}
	kind, err = Kind(body)
	if err != nil {
		return "", b, d, err
	}
	switch kind {
	case KindBatch:
		b, err = DecodeBatch(body)
	case KindDone:
		d, err = DecodeDone(body)
	default:
		err = fault.Permanentf("a batches queue carries batch and done messages, not %s", quote(kind))
	}
	return kind, b, d, err
}

func checkBatch(b Batch) error {
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
	return invalid(KindBatch, errs)
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
	// @keys lists the keys, duplicates too, without copying the body (a
	// batch's is about 1 MiB): only the small list is allocated.
	gjson.GetBytes(body, "@keys").ForEach(func(_, key gjson.Result) bool {
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
	// checkKeys has refused unknown keys (every message is flat), so
	// Unmarshal, which decodes in place, needs no DisallowUnknownFields: a
	// json.Decoder would first copy the whole body into its buffer.
	if err := json.Unmarshal(body, v); err != nil {
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

// RunOf reads only the run a message names — its source, window, run_id
// and attempt, whatever else it holds — for a message that cannot be
// decoded (a field this version does not know, a value out of range), so
// that its run can be told why. ok is false if body names no valid run.
func RunOf(body []byte) (r Run, ok bool) {
	if json.Unmarshal(body, &r) != nil || errors.Join(checkRun(r)...) != nil {
		return Run{}, false
	}
	return r, true
}
