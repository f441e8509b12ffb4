# The CloudWatch dashboard of the pipeline: runs, records and failures of
# each source, its freshness lag, the services' messages, and the queues
# and DLQs. The Sluice metrics are the services' own log lines in the
# CloudWatch Embedded Metric Format (shared/metrics; README, "Metrics"):
# no PutMetricData call or permission. scripts/infracheck checks that every
# metric and dimension named here is one the code emits.

locals {
  metric_sources  = [for s in local.pipeline_sources : s.name]
  metric_services = sort(keys(local.consumed_queue))

  # Each graph of Sluice's own metrics: its title, statistic and metric
  # rows ([namespace, metric, dimension, value, options]).
  sluice_metric_graphs = [
    {
      title   = "Runs succeeded, by source"
      stat    = "Sum"
      metrics = [for s in local.metric_sources : [var.metrics_namespace, "RunsSucceeded", "Source", s, { label = s }]]
    },
    {
      title   = "Runs failed, by source"
      stat    = "Sum"
      metrics = [for s in local.metric_sources : [var.metrics_namespace, "RunsFailed", "Source", s, { label = s }]]
    },
    {
      title   = "Records published, by source"
      stat    = "Sum"
      metrics = [for s in local.metric_sources : [var.metrics_namespace, "Records", "Source", s, { label = s }]]
    },
    {
      title   = "Freshness lag (s) beyond what the schedule allows, by source (above 0: stale)"
      stat    = "Maximum"
      metrics = [for s in local.metric_sources : [var.metrics_namespace, "FreshnessLag", "Source", s, { label = s }]]
    },
    {
      title = "API 429s, 5xx and retries, by source"
      stat  = "Sum"
      # concat, not flatten: flatten would flatten the rows too.
      metrics = concat(
        [for s in local.metric_sources : [var.metrics_namespace, "Api429", "Source", s, { label = "${s} 429" }]],
        [for s in local.metric_sources : [var.metrics_namespace, "Api5xx", "Source", s, { label = "${s} 5xx" }]],
        [for s in local.metric_sources : [var.metrics_namespace, "Retries", "Source", s, { label = "${s} retries" }]],
      )
    },
    {
      title = "Messages parked and retried, by service"
      stat  = "Sum"
      metrics = concat(
        [for svc in local.metric_services : [var.metrics_namespace, "MessagesParked", "Service", svc, { label = "${svc} parked" }]],
        [for svc in local.metric_services : [var.metrics_namespace, "MessagesRetried", "Service", svc, { label = "${svc} retried" }]],
      )
    },
    {
      title = "Messages handled, by service; inputs dropped"
      stat  = "Sum"
      metrics = concat(
        [for svc in local.metric_services : [var.metrics_namespace, "MessagesHandled", "Service", svc, { label = svc }]],
        [[var.metrics_namespace, "DuplicatesDropped", "Service", "dedupe", { label = "duplicates dropped (held)" }]],
        [[var.metrics_namespace, "AlreadySucceeded", "Service", "dedupe", { label = "already succeeded (lookback)" }]],
      )
    },
  ]

  # The queues' own metrics (AWS/SQS), main queues and DLQs.
  queue_metric_graphs = [
    {
      title   = "Messages visible, by queue"
      stat    = "Maximum"
      metrics = [for q in keys(local.queue_consumers) : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.main[q].name, { label = q }]]
    },
    {
      title   = "Age of the oldest message (s), by queue"
      stat    = "Maximum"
      metrics = [for q in keys(local.queue_consumers) : ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", aws_sqs_queue.main[q].name, { label = q }]]
    },
    {
      title   = "Age of the oldest DLQ message (s): how long it has waited for a person"
      stat    = "Maximum"
      metrics = [for q in keys(local.queue_consumers) : ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", aws_sqs_queue.dlq[q].name, { label = "${q} DLQ" }]]
    },
    {
      title   = "Messages in the DLQs (each needs a person)"
      stat    = "Maximum"
      metrics = [for q in keys(local.queue_consumers) : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.dlq[q].name, { label = "${q} DLQ" }]]
    },
  ]

  # A graph without a metric (a pipeline file without sources) is left
  # out: CloudWatch refuses one.
  dashboard_graphs = [for g in concat(local.sluice_metric_graphs, local.queue_metric_graphs) : g if length(g.metrics) > 0]

  dashboard_name = "${var.name_prefix}-pipeline"
}

resource "aws_cloudwatch_dashboard" "pipeline" {
  count = var.create_dashboard ? 1 : 0

  dashboard_name = local.dashboard_name
  dashboard_body = jsonencode({
    widgets = [for i, g in local.dashboard_graphs : {
      type   = "metric"
      x      = (i % 2) * 12
      y      = floor(i / 2) * 6
      width  = 12
      height = 6
      properties = {
        title   = g.title
        view    = "timeSeries"
        stacked = false
        region  = data.aws_region.current.region
        stat    = g.stat
        period  = 300
        metrics = g.metrics
      }
    }]
  })
}
