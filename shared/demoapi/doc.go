// Package demoapi is a deterministic HTTP API that stands in for the
// third-party APIs Sluice pulls from, in the demo, in tests and in
// benchmarks.
//
// Each source serves a fixed number of records per day. A record is a pure
// function of (source, day, index), so a test can compute exactly what
// Sluice must have written — byte for byte — with Records, without running
// the server. The records are made to catch a pipeline that decodes and
// re-encodes them: integers beyond 2^53 and 2^64, long decimals, escaped and
// non-ASCII text, nulls and nested objects.
//
// Two pagination styles are served, as real APIs do:
//
//	page_number: GET /v1/{source}?day=2026-11-01&page=1&per_page=100
//	             {"data":[...],"page":1,"per_page":100,"total_pages":3}
//	cursor:      GET /v1/{source}/events?day=2026-11-01&cursor=C&limit=100
//	             {"items":[...],"next_cursor":"C2"}   (no next_cursor on the last page)
//
// Failures are injected per source, at start (SourceOptions.FailStatus), from
// a test (SetFailure, FailNext) or from another process:
//
//	POST /admin/fail?source=orders&status=503[&count=2]   status=0 clears
//	GET  /admin/requests                                   {"orders":12,...}
package demoapi
