# Four work queues, each with its own DLQ. The services also park permanent
# failures on the DLQ of the queue they consume (SLUICE_DLQ_URL), so a message
# reaches it either at once or after max_receive_count receives.

resource "aws_sqs_queue" "dlq" {
  for_each = local.queue_consumers

  name                      = "${var.name_prefix}-${each.key}-dlq"
  message_retention_seconds = var.dlq_message_retention_seconds
  max_message_size          = var.max_message_size
  receive_wait_time_seconds = var.receive_wait_time_seconds
  sqs_managed_sse_enabled   = true

  tags = var.tags
}

resource "aws_sqs_queue" "main" {
  for_each = local.queue_consumers

  name                       = "${var.name_prefix}-${each.key}"
  visibility_timeout_seconds = local.visibility_timeout_seconds[each.key]
  message_retention_seconds  = var.message_retention_seconds
  max_message_size           = var.max_message_size
  receive_wait_time_seconds  = var.receive_wait_time_seconds
  sqs_managed_sse_enabled    = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.dlq_message_retention_seconds > var.message_retention_seconds
      error_message = "dlq_message_retention_seconds must be longer than message_retention_seconds: a moved message keeps its original enqueue time and would expire on arrival."
    }
  }
}

# Only the matching work queue may use each DLQ. A separate resource avoids the
# queue -> DLQ -> queue reference cycle.
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  for_each = local.queue_consumers

  queue_url = aws_sqs_queue.dlq[each.key].id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.main[each.key].arn]
  })
}
