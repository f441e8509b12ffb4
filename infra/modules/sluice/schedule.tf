# EventBridge Scheduler starts the daily run. By default it sends a trigger
# message to the triggers queue (EventBridge -> triggers queue -> scheduler);
# with schedule_target = "lambda" it invokes the scheduler function directly.
# Scheduler authorises through its execution role, so no Lambda resource
# policy is needed. Events it cannot deliver after the retry policy go to the
# triggers DLQ.

locals {
  schedule_target_arn = (
    var.schedule_target == "lambda"
    ? aws_lambda_function.service["scheduler"].arn
    : aws_sqs_queue.main["triggers"].arn
  )

  schedule_target_statement = (
    var.schedule_target == "lambda"
    ? { sid = "InvokeScheduler", actions = ["lambda:InvokeFunction"], resources = [aws_lambda_function.service["scheduler"].arn] }
    : { sid = "SendTrigger", actions = ["sqs:SendMessage"], resources = [aws_sqs_queue.main["triggers"].arn] }
  )
}

data "aws_iam_policy_document" "schedule_assume" {
  count = var.schedule_enabled ? 1 : 0

  statement {
    sid     = "SchedulerAssume"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "schedule" {
  count = var.schedule_enabled ? 1 : 0

  name               = "${var.name_prefix}-schedule"
  description        = "Lets EventBridge Scheduler start Sluice runs."
  assume_role_policy = data.aws_iam_policy_document.schedule_assume[0].json

  tags = var.tags
}

data "aws_iam_policy_document" "schedule" {
  count = var.schedule_enabled ? 1 : 0

  statement {
    sid       = local.schedule_target_statement.sid
    actions   = local.schedule_target_statement.actions
    resources = local.schedule_target_statement.resources
  }

  statement {
    sid       = "DeadLetter"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq["triggers"].arn]
  }
}

resource "aws_iam_role_policy" "schedule" {
  count = var.schedule_enabled ? 1 : 0

  name   = "${var.name_prefix}-schedule-target"
  role   = aws_iam_role.schedule[0].id
  policy = data.aws_iam_policy_document.schedule[0].json
}

resource "aws_scheduler_schedule" "run" {
  count = var.schedule_enabled ? 1 : 0

  name        = "${var.name_prefix}-run"
  group_name  = "default"
  description = "Starts the daily Sluice run."
  state       = "ENABLED"

  schedule_expression          = var.schedule_expression
  schedule_expression_timezone = var.schedule_timezone

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = local.schedule_target_arn
    role_arn = aws_iam_role.schedule[0].arn
    input    = local.schedule_input

    retry_policy {
      maximum_event_age_in_seconds = var.schedule_retry.maximum_event_age_in_seconds
      maximum_retry_attempts       = var.schedule_retry.maximum_retry_attempts
    }

    dead_letter_config {
      arn = aws_sqs_queue.dlq["triggers"].arn
    }
  }

  depends_on = [aws_iam_role_policy.schedule]
}
