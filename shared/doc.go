// Package shared is the root of Sluice's shared module. It holds no code:
// each sub-package provides one thing the services share (contracts, fault,
// logging, consumer, backoff, queue, runs, pipeline, source, sink, awsconf,
// devstack).
package shared
