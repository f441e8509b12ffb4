data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

locals {
  # Each main queue and the service whose Lambda consumes it.
  queue_consumers = {
    triggers = "scheduler"
    inputs   = "dedupe"
    fetch    = "fetcher"
    batches  = "writer"
  }

  # Each service and the queue it consumes.
  consumed_queue = { for queue, service in local.queue_consumers : service => queue }

  functions = var.functions

  function_names = { for service in keys(local.consumed_queue) : service => "${var.name_prefix}-${service}" }

  artifact_paths = { for service in keys(local.consumed_queue) : service => "${var.artifacts_dir}/${service}.zip" }

  # AWS guidance for SQS event sources: visibility timeout >= 6 x function
  # timeout, plus the batching window, so a batch still being retried by
  # Lambda is not handed out again. 43200 s is the SQS maximum.
  visibility_timeout_seconds = {
    for queue, service in local.queue_consumers : queue => min(
      43200,
      var.visibility_timeout_multiplier * local.functions[service].timeout + local.functions[service].maximum_batching_window_in_seconds,
    )
  }

  # The oldest-message alarm must not fire on one ordinary redelivery: a
  # message whose invocation timed out waits out the visibility timeout and
  # is then processed again, so it can age visibility + timeout.
  oldest_message_age_alarm_seconds = {
    for queue, service in local.queue_consumers : queue => coalesce(
      var.oldest_message_age_alarm_seconds[queue],
      max(900, local.visibility_timeout_seconds[queue] + local.functions[service].timeout),
    )
  }

  bucket_name = coalesce(var.bucket_name, "${var.name_prefix}-data-${data.aws_caller_identity.current.account_id}")

  # Lambda's application log filter understands the same level names as zap.
  lambda_application_log_level = upper(var.log_level)

  # A literal string on purpose: jsonencode would escape < and > as \u003c and
  # \u003e, and Scheduler would no longer substitute its context attributes.
  schedule_input = coalesce(
    var.schedule_input,
    "{\"v\":1,\"kind\":\"trigger\",\"trigger\":\"schedule\",\"at\":\"<aws.scheduler.scheduled-time>\"}",
  )
}
