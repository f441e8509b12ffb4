# One alarm per source of the pipeline file on its freshness: the
# scheduler's sweep measures, every minute, how far the source's latest
# SUCCEEDED window is behind what its schedule allows (partition.lag, one
# window, and one window's grace: shared/freshness) and writes it as the
# FreshnessLag metric of the source, also for a source that runs no more.
# Missing data is breaching: a sweep that stops measuring is as bad as a
# stale source. Same topic and actions as the other alarms.

resource "aws_cloudwatch_metric_alarm" "freshness" {
  for_each = var.create_alarms ? toset(local.metric_sources) : toset([])

  alarm_name        = "${var.name_prefix}-${each.key}-stale"
  alarm_description = "Source ${each.key}: its latest SUCCEEDED window is older than its schedule allows, or the scheduler's sweep has not measured it for ${var.freshness_alarm_evaluation_periods * 5} minutes. See sluicectl status, the runs that FAILED, and backfill the due windows."

  namespace   = var.metrics_namespace
  metric_name = "FreshnessLag"
  dimensions = {
    Source = each.key
  }

  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = var.freshness_alarm_evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "breaching"

  alarm_actions = local.alarm_actions
  ok_actions    = local.ok_actions

  tags = var.tags
}
