// Package metrics writes Sluice's CloudWatch metrics in the Embedded
// Metric Format (EMF): the metrics are members of a service's own zap JSON
// log line, beside the `_aws` object that tells CloudWatch Logs to extract
// them, so a Lambda function publishes metrics without one more API call
// or permission (a poller's lines become metrics too once they reach
// CloudWatch Logs).
//
// One line carries one metric directive: one namespace, one dimension set
// ([Source] for a run's metrics, [Service] for a service's), and the
// metrics of that line. Dimensions are kept to those two so that the
// metrics' cardinality stays low: a run id or a window is a plain field of
// the line, never a dimension.
//
// The metrics Sluice emits are the Defs of this package (Catalog); the
// dashboard and alarms in infra/ may only name those (scripts/infracheck
// checks it). See the README, "Metrics".
package metrics
