# Every alarm notifies one SNS topic (created here, or yours by
# alarm_topic_arn) on ALARM and on OK, plus any extra actions. Anything on a
# DLQ needs a person (inspect, fix, redrive); a main queue whose oldest
# message keeps ageing means its consumer is stuck or throttled; Lambda
# Errors are invocations that crashed or timed out (a message a handler
# fails is reported in the batch response, not as an error), and Throttles
# mean reserved or account concurrency is below the mapping's maximum.

locals {
  create_alarm_topic = var.create_alarms && var.alarm_topic_arn == null

  alarm_topic_arn = var.create_alarms ? coalesce(var.alarm_topic_arn, one(aws_sns_topic.alarms[*].arn)) : null

  alarm_actions = var.create_alarms ? concat([local.alarm_topic_arn], var.alarm_actions) : []
  ok_actions    = var.create_alarms ? concat([local.alarm_topic_arn], var.ok_actions) : []

  # Lambda alarms: one per function and metric.
  lambda_alarms = {
    for pair in setproduct(keys(local.function_names), ["Errors", "Throttles"]) : "${pair[0]}-${lower(pair[1])}" => {
      service = pair[0]
      metric  = pair[1]
    }
  }
}

# Encryption is optional on purpose: CloudWatch can publish only to a topic
# under a customer managed key whose policy allows it, never under aws/sns.
#tfsec:ignore:aws-sns-enable-topic-encryption Alarm notifications carry alarm names and states only; set alarm_topic_kms_key_arn to a CMK that allows cloudwatch.amazonaws.com to encrypt them.
resource "aws_sns_topic" "alarms" {
  count = local.create_alarm_topic ? 1 : 0

  name              = "${var.name_prefix}-alarms"
  kms_master_key_id = var.alarm_topic_kms_key_arn

  tags = var.tags
}

resource "aws_sns_topic_subscription" "alarm_email" {
  for_each = local.create_alarm_topic ? toset(var.alarm_email_addresses) : toset([])

  topic_arn = aws_sns_topic.alarms[0].arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_cloudwatch_metric_alarm" "dlq_not_empty" {
  for_each = var.create_alarms ? local.queue_consumers : {}

  alarm_name        = "${aws_sqs_queue.dlq[each.key].name}-not-empty"
  alarm_description = "Messages are waiting on ${aws_sqs_queue.dlq[each.key].name}. Inspect them, fix the cause, then redrive with sluicectl redrive (see infra/README.md)."

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

  alarm_actions = local.alarm_actions
  ok_actions    = local.ok_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "oldest_message_age" {
  for_each = var.create_alarms ? local.queue_consumers : {}

  alarm_name        = "${aws_sqs_queue.main[each.key].name}-oldest-message-age"
  alarm_description = "The oldest message on ${aws_sqs_queue.main[each.key].name} is older than ${local.oldest_message_age_alarm_seconds[each.key]}s: the ${each.value} function is failing, throttled or too slow."

  namespace   = "AWS/SQS"
  metric_name = "ApproximateAgeOfOldestMessage"
  dimensions = {
    QueueName = aws_sqs_queue.main[each.key].name
  }

  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = var.alarm_evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = local.oldest_message_age_alarm_seconds[each.key]
  treat_missing_data  = "notBreaching"

  alarm_actions = local.alarm_actions
  ok_actions    = local.ok_actions

  tags = var.tags

  lifecycle {
    precondition {
      condition     = local.oldest_message_age_alarm_seconds[each.key] > local.visibility_timeout_seconds[each.key]
      error_message = "oldest_message_age_alarm_seconds.${each.key} must exceed the queue's visibility timeout (${local.visibility_timeout_seconds[each.key]} s), or one ordinary redelivery raises the alarm."
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "lambda" {
  for_each = var.create_alarms ? local.lambda_alarms : {}

  alarm_name        = "${aws_lambda_function.service[each.value.service].function_name}-${lower(each.value.metric)}"
  alarm_description = "The ${each.value.service} function reported ${each.value.metric} (${each.value.metric == "Errors" ? "invocations that crashed or timed out; see its log group" : "concurrency below the event source's maximum_concurrency"})."

  namespace   = "AWS/Lambda"
  metric_name = each.value.metric
  dimensions = {
    FunctionName = aws_lambda_function.service[each.value.service].function_name
  }

  statistic           = "Sum"
  period              = var.lambda_alarm_period_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"

  alarm_actions = local.alarm_actions
  ok_actions    = local.ok_actions

  tags = var.tags
}
