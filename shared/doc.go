// Package shared is the root of Sluice's shared module. It holds no code:
// each sub-package provides one thing the services share.
//
//	contracts   the versioned messages between the services, decoded strictly
//	fault       permanent or retryable: each error classified once
//	logging     zap JSON loggers and the per-message log scope
//	consumer    one transport-free handler behind Lambda SQS events and the local poller,
//	            with the delivery policy (give up on the last receive, park) as middleware
//	backoff     the one exponential backoff with jitter (message retries, receives, HTTP retries)
//	service     the bootstrap every service shares: env config, logger, SIGTERM, transport
//	queue       publishing to SQS, one message or batches within SQS's limits
//	runs        the DynamoDB run record: claim, lease, fencing, hand-over, history
//	commit      the commit protocol that makes one complete attempt the output, exactly once
//	pipeline    the pipeline config: load, validate, windows, templates, lookups
//	source      paging through an HTTP API, raw records, rate limits, retries
//	auth        per-source credentials added to every request
//	secrets     resolving a config's secret references (env, Secrets Manager, SSM)
//	pack        the batch compressor: records into gzip JSON Lines batches, and their check
//	sink        S3: write-once parts per attempt, manifests, the partition pointer
//	awsconf     the one AWS config and the clients built from it
//	devstack    the local emulators: ensure running, provision resources
//	            (devstack/devstacktest: a fresh set of resources per test)
//
// The demo API that stands in for third-party APIs in the demo and the tests
// is not here but in its own module, scripts/demoapi: no service links it.
package shared
