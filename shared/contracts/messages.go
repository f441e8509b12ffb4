package contracts

import "time"

// Trigger asks the scheduler to expand the pipeline into inputs. With From
// and To set it covers every window that overlaps [From, To); without them it
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
	// TakeUp marks an input the scheduler's sweep sent to take up a run
	// whose worker died: dedupe claims it only over that run's expired
	// lease (runs.ClaimRequest.TakeUp), never over a free or FAILED run.
	TakeUp bool `json:"takeup,omitempty"`
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
// characters SQS refuses in a message body — out of SQS's way. The
// member's header carries the batch's checksum in an extra field, which
// gzip readers skip (package pack).
const EncodingGzipJSONL = "gzip-jsonl"

// Batch carries consecutive records of one run: Data is the
// gzip-compressed JSON Lines of Count records, RawBytes long before
// compression (see EncodingGzipJSONL). Its body is this struct encoded
// with encoding/json; package pack builds the payload and checks it.
type Batch struct {
	V    int    `json:"v"`
	Kind string `json:"kind"`
	Run
	Seq      int   `json:"seq"`
	Count    int   `json:"count"`
	RawBytes int64 `json:"raw_bytes"`
	// CRC32C is read, and its value checked, but not used: fetchers built
	// between the batch checksum's first version and its move into the
	// payload (package pack) sent it; the writer checks their payloads by
	// decompressing them. No fetcher sends it any more: a writer built
	// before it refuses a body with it (unknown field).
	CRC32C   *uint32 `json:"crc32c,omitempty"`
	Encoding string  `json:"encoding"`
	Data     []byte  `json:"data"` // base64 in the JSON body
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
