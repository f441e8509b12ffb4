# Anything on a DLQ needs a person (inspect, fix, redrive); a main queue whose
# oldest message keeps ageing means its consumer is stuck or throttled.

resource "aws_cloudwatch_metric_alarm" "dlq_not_empty" {
  for_each = var.create_alarms ? local.queue_consumers : {}

  alarm_name        = "${aws_sqs_queue.dlq[each.key].name}-not-empty"
  alarm_description = "Messages are waiting on ${aws_sqs_queue.dlq[each.key].name}. Inspect them, fix the cause, then redrive (see infra/README.md)."

  namespace   = "AWS/SQS"
  metric_name = "ApproximateNumberOfMessagesVisible"
  dimensions = {
    QueueName = aws_sqs_queue.dlq[each.key].name
  }

  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"

  alarm_actions = var.alarm_actions
  ok_actions    = var.ok_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "oldest_message_age" {
  for_each = var.create_alarms ? local.queue_consumers : {}

  alarm_name        = "${aws_sqs_queue.main[each.key].name}-oldest-message-age"
  alarm_description = "The oldest message on ${aws_sqs_queue.main[each.key].name} is older than ${var.oldest_message_age_alarm_seconds[each.key]}s: the ${each.value} function is failing, throttled or too slow."

  namespace   = "AWS/SQS"
  metric_name = "ApproximateAgeOfOldestMessage"
  dimensions = {
    QueueName = aws_sqs_queue.main[each.key].name
  }

  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = var.alarm_evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.oldest_message_age_alarm_seconds[each.key]
  treat_missing_data  = "notBreaching"

  alarm_actions = var.alarm_actions
  ok_actions    = var.ok_actions

  tags = var.tags
}
