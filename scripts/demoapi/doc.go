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
// Every pagination style of package pipeline is served, as real APIs do
// (SourceOptions.Style; the day may also be given as since=<unix seconds>):
//
//	page_number: GET /v1/{source}?day=2026-11-01&page=1&per_page=100
//	             {"data":[...],"page":1,"per_page":100,"total_pages":3}
//	offset:      GET /v1/{source}?day=2026-11-01&offset=0&limit=100
//	             {"results":[...],"offset":0,"limit":100,"total":250}
//	cursor:      GET /v1/{source}/events?day=2026-11-01&cursor=C&limit=100
//	             {"items":[...],"next_cursor":"C2"}   (no next_cursor on the last page)
//	next_url:    GET /v1/{source}?day=2026-11-01&limit=100[&page_token=T]
//	             {"data":[...],"links":{"next":"http://…/v1/{source}?…&page_token=T2"}}   (null on the last page)
//	link_header: GET /v1/{source}?day=2026-11-01&page=1&per_page=100
//	             [...]   with Link: <…page=2…>; rel="next", <…page=3…>; rel=last
//	none:        GET /v1/{source}?day=2026-11-01
//	             [...]   every record of the day
//
// A request may also filter the day by time, as time-filtered APIs do:
// since=<unix seconds>&until=<unix seconds>, within one day, serves only
// the records whose created_at lies in [since, until), paged as the style
// pages a day (RecordsBetween is what it serves; SourceOptions.Slices
// writes such a source's config, cut into time slices).
//
// A source may want POST instead, with its parameters in a JSON object body
// (SourceOptions.Method), and credentials (SourceOptions.Auth): an api key in
// a header or the query, a bearer token, basic auth, or OAuth2 client
// credentials from POST /oauth/token, whose tokens expire (SetTokenTTL) and
// can be made to be refused after a number of uses (SourceOptions.TokenUses).
// The accepted credentials are the constants of this package; PipelineYAML
// writes a config for every source, its secrets naming the variables of Env.
//
// Failures are injected per source, at start (SourceOptions.FailStatus,
// SourceOptions.Fail), from a test (Inject, SetFailure, FailNext) or from
// another process: an error status with an optional Retry-After (seconds or
// an HTTP date), a truncated body or a body that is not JSON.
//
//	POST /admin/fail?source=orders&status=503[&count=2][&retry_after=1][&body=truncated|not_json]   status=0 clears
//	GET  /admin/requests                                                                              {"orders":12,...}
//
// The package is a module of its own, beside the scripts and outside the
// shared module, because it is test support, not production code: the
// services import it from their tests only, so their binaries never link
// it. It requires no other Sluice module, so the shared module's tests, the
// services' tests and the scripts can all require it without a module
// cycle (which is also why the check that pipeline.Parse accepts its
// configs lives in package pipeline's tests).
package demoapi
