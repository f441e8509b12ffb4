// Package devstack runs Sluice against the local AWS emulators: DynamoDB
// Local, fauxqs (SQS) and versitygw (S3), installed and started by
// scripts/stack.sh on 127.0.0.1.
//
// It gives the three things every local run needs, so that no test, demo or
// tool grows its own copy:
//
//   - Ensure checks that the emulators answer and starts them (scripts/stack.sh up)
//     when they do not. The emulators are left running for the next caller;
//     `scripts/stack.sh down` stops them.
//   - AWSConfig builds an aws.Config with the local credentials and each
//     service's endpoint baked in, so that sqs.NewFromConfig(cfg) and friends
//     reach the emulators without further options (S3 also gets path-style
//     addressing). Env gives the same settings as environment variables for
//     child processes.
//   - Provision creates, idempotently, the resources of one prefix (Names):
//     four queues each with its dead-letter queue, the runs table and the
//     data bucket.
//
// Tests use devstack/devstacktest, which adds a unique prefix per test and
// cleans up after it. The split keeps package testing out of this package,
// which the demo orchestrator also imports.
//
// Set SLUICE_DEVSTACK=external to forbid starting anything: Ensure then only
// checks that emulators (started by someone else) answer on the configured
// ports (SLUICE_DDB_PORT, SLUICE_SQS_PORT, SLUICE_S3_PORT).
package devstack
