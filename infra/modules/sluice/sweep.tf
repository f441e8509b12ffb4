# The scheduler's sweep: every minute an EventBridge rule invokes the
# scheduler function with the sweep event (the target's input, detail-type
# "Sluice Sweep"), which takes up runs whose worker died and reconciles the
# DLQs (services/scheduler/sweep). EventBridge does not retry a delivery
# (maximum_retry_attempts = 0); a failed invocation may be retried by
# Lambda's own asynchronous retries, which can overlap the next tick —
# harmless, every take-up is conditional — and the next tick sweeps again
# anyway.

resource "aws_cloudwatch_event_rule" "sweep" {
  name                = "${var.name_prefix}-sweep"
  description         = "Runs the Sluice sweep: takes up runs whose worker died, reconciles the DLQs."
  schedule_expression = var.sweep_schedule_expression

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "sweep" {
  rule  = aws_cloudwatch_event_rule.sweep.name
  arn   = aws_lambda_function.service["scheduler"].arn
  input = jsonencode({ "detail-type" = "Sluice Sweep" })

  retry_policy {
    maximum_event_age_in_seconds = 60
    maximum_retry_attempts       = 0
  }
}

resource "aws_lambda_permission" "sweep" {
  statement_id  = "AllowSweepRule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.service["scheduler"].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.sweep.arn
}
