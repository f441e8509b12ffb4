package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// Fingerprint is a stable hash of the parts of the source's config that
// decide which records a walk of a window returns and how its pages are
// cut: the request (method, URL, path, query, headers, body), the
// pagination, the records path, the partition period and slices (a sliced
// walk's pages and checkpoint are its slices'), and the auth section
// as written (its secret references, never their values: a rotated secret
// keeps the fingerprint, a reference to another account's does not). Two
// configs with the same fingerprint walk a window through the same pages.
//
// Left out, because they change only how fast or how patiently a walk
// goes, or when a window is due, never what it returns: the name, the
// request timeout, max_pages (a walk past it fails, it is not cut),
// pagination.concurrency (a concurrent walk hands over the very pages of
// the serial one), the partition's lag, lookback and start (which windows
// are due, not what a walk of one returns), rate_limit, retry, and output
// (applied at commit to parts that are always staged the same way). Any other field,
// including one added later, is part of the fingerprint: a change it
// misses could mix two configs in one attempt, while one it catches in
// vain costs only a restart.
//
// A field added later and left out must also leave the hashed JSON
// (`json:",omitempty"` on a field Fingerprint zeroes, as on
// Pagination.Concurrency): as "Field":0 it would change every source's
// fingerprint once, at the deploy that adds it, and restart every fetch
// mid-hand-over or mid-stop. TestFingerprintIsPinned holds the
// fingerprints of before pagination.concurrency.
//
// Fingerprint hashes the config as parsed (defaults filled in), so a
// default written out or left out, and the order of map keys, do not
// change it.
func (s *Source) Fingerprint() string {
	walk := *s
	walk.Name = ""
	walk.Request.Timeout = 0
	walk.Pagination.MaxPages = 0
	walk.Pagination.Concurrency = 0
	walk.Partition.Lag, walk.Partition.Lookback, walk.Partition.Start = 0, 0, time.Time{}
	walk.RateLimit = RateLimit{}
	walk.Retry = Retry{}
	walk.Output = Output{}
	// encoding/json writes struct fields in order and map keys sorted: a
	// canonical encoding of the same config.
	b, err := json.Marshal(walk)
	if err != nil {
		panic("pipeline: encode a source for its fingerprint: " + err.Error()) // plain strings, ints and maps cannot fail
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
