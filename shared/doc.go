// Package shared is the root of Sluice's shared module. It holds no code:
// each sub-package provides one thing the services share.
//
//	contracts   the versioned messages between the services, decoded strictly
//	fault       permanent or retryable: each error classified once
//	logging     zap JSON loggers and the per-message log scope
//	metrics     CloudWatch metrics (EMF) as members of a service's own log lines
//	            (metrics/metricstest: the EMF specification's rules, for tests)
//	consumer    one transport-free handler behind Lambda SQS events and the local poller,
//	            with the delivery policy (give up on the last receive, park) as middleware
//	backoff     the one exponential backoff with jitter (message retries, receives, HTTP retries)
//	service     the bootstrap every service shares: env config, logger, SIGTERM, transport
//	queue       publishing to SQS, one message or batches within SQS's limits
//	runs        the DynamoDB run record: claim, lease, fencing, hand-over, history
//	            (runs/runstest: its contract suite and an in-memory store for service tests)
//	pipeline    the pipeline config: load, validate, windows, templates, lookups
//	freshness   how fresh a source is: its latest SUCCEEDED window's age against its partition, stale or not
//	source      paging through an HTTP API, raw records, rate limits, retries
//	auth        per-source credentials added to every request
//	secrets     resolving a config's secret references (env, Secrets Manager, SSM)
//	pack        the batch compressor: records into gzip JSON Lines batches, and their check
//	sink        S3: write-once parts per attempt, manifests, the partition pointer
//	schema      parquet columns: declared in the config, or inferred from the records
//	parquetfile records into a parquet file with a schema, streaming by row groups
//	redrive     the rules for a parked message: its run, the Input that takes it up, whether it is still needed
//	awsconf     the one AWS config and the clients built from it
//	devstack    the local emulators: ensure running, provision resources
//	            (devstack/devstacktest: a fresh set of resources per test)
//
// The commit protocol is not here but beside its one user, the writer
// (services/writer/commit); so is the sweep, beside the scheduler
// (services/scheduler/sweep: runs.Store Expired and TakeUp, redrive's
// rules over the DLQs). The demo API that stands in for third-party APIs
// in the demo and the tests is in its own module, scripts/demoapi: no
// service links it.
//
// One input through the files, from a trigger to the published partition
// (every hop enters through consumer: lambda.go or poller.go, then
// consumer.go's Process, giveup.go's middleware, the service's handler.go):
//
//	scheduler  services/scheduler/handler.go   expand: pipeline.Config.Expand → queue.Publisher sends one Input per window
//	dedupe     services/dedupe/handler.go      pipeline.Config.Lookup → sink/attempts.go HighestAttempt (the floor)
//	                                          → runs/claim.go Claim → send the Fetch
//	fetcher    services/fetcher/handler.go     runs/fetch.go Start (hop 0) or Continue (a hand-over), restart on a redelivery;
//	                                          lease.go heartbeats; source/fetch.go + pager.go walk the pages;
//	                                          pack/packer.go packs batches; queue sends each Batch, then Done
//	                                          (or runs/fetch.go Checkpoint + a continuation Fetch to hand over)
//	writer     services/writer/handler.go      pack/verify.go → sink/part.go WritePart → runs/commit.go BatchWritten / SetTotals;
//	                                          the message that completes the run: services/writer/commit (runs BeginCommit,
//	                                          sink Parts, manifest.go, pointer.go Publish, cleanup.go, runs FinishCommit)
package shared
