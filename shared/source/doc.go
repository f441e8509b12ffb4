// Package source pages through an HTTP API as a pipeline.Source describes it
// and hands over the records of each page as raw JSON — the bytes the API
// sent, never decoded and re-encoded — so that numbers, escapes and key order
// reach storage unchanged.
//
// Client.Fetch walks the pages of one partition window in order, holding one
// page body at a time, and retries each page a few times itself for the
// failures of a moment (5xx, 429, 408, timeouts, broken connections,
// truncated or invalid JSON). Errors come back classified with package fault:
// a page that still fails is fault.Retryable — the message that asked for
// the window can be redelivered later — while a failure that no retry can
// fix (another 4xx, a records path that is not there, a runaway pager) is
// fault.Permanent at once.
package source
