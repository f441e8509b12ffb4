# One alarm per source of the pipeline file on its freshness: the
# scheduler's sweep measures, every minute, how far the source's latest
# SUCCEEDED window is behind what its schedule allows (partition.lag, one
# window, the schedule's period schedule_interval, and an hour's grace:
# shared/freshness) and writes it as the
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

  lifecycle {
    # FreshnessLag is written on the scheduler's info lines: below info it
    # is never written, and every alarm would fire on missing data.
    precondition {
      condition     = contains(["debug", "info"], var.log_level)
      error_message = "The freshness alarms read FreshnessLag from the scheduler's info log lines; with log_level \"${var.log_level}\" those are not written and every source's alarm fires. Set log_level to info or debug, or create_alarms = false."
    }
    # One measurement per 5-minute period at least, or the periods without
    # one are missing data, breaching.
    precondition {
      condition     = can(regex("^rate\\([1-5] minutes?\\)$", var.sweep_schedule_expression))
      error_message = "The freshness alarms need a sweep at least every 5 minutes (their period): sweep_schedule_expression must be rate(1 minute) … rate(5 minutes), or create_alarms = false."
    }
  }
}
