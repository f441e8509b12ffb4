# The four services as arm64 custom-runtime functions. Each zip holds the
# `bootstrap` binary and pipeline.yaml; each function consumes one queue
# through an SQS event source mapping and answers with partial batch failures.

locals {
  # Where this stack's resources are: what any Sluice process (a function or
  # sluicectl) needs to reach them.
  stack_environment = {
    SLUICE_RUNS_TABLE         = aws_dynamodb_table.runs.name
    SLUICE_BUCKET             = aws_s3_bucket.data.bucket
    SLUICE_TRIGGERS_QUEUE_URL = aws_sqs_queue.main["triggers"].url
    SLUICE_INPUTS_QUEUE_URL   = aws_sqs_queue.main["inputs"].url
    SLUICE_FETCH_QUEUE_URL    = aws_sqs_queue.main["fetch"].url
    SLUICE_BATCHES_QUEUE_URL  = aws_sqs_queue.main["batches"].url
    SLUICE_MAX_RECEIVE        = tostring(var.max_receive_count)
  }

  # Configuration every function reads (README, "Service configuration
  # reference"). SLUICE_DLQ_URL, the DLQ of the queue the service consumes,
  # is added per function below.
  shared_environment = merge(local.stack_environment, {
    SLUICE_PIPELINE_FILE = var.pipeline_file
    SLUICE_WORKERS       = tostring(var.workers)
    SLUICE_LEASE         = var.lease
    SLUICE_LOG_LEVEL     = var.log_level
    SLUICE_TRANSPORT     = "lambda"
  }, var.heartbeat == "" ? {} : { SLUICE_HEARTBEAT = var.heartbeat })

  function_environment = {
    for service, queue in local.consumed_queue : service => merge(
      var.extra_environment,
      local.shared_environment,
      { SLUICE_DLQ_URL = aws_sqs_queue.dlq[queue].url },
    )
  }
}

resource "aws_cloudwatch_log_group" "function" {
  for_each = local.function_names

  name              = "/aws/lambda/${each.value}"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.logs_kms_key_arn

  tags = var.tags
}

resource "aws_lambda_function" "service" {
  for_each = local.function_names

  function_name = each.value
  description   = "Sluice ${each.key}: consumes ${var.name_prefix}-${local.consumed_queue[each.key]}."
  role          = aws_iam_role.function[each.key].arn

  runtime       = "provided.al2023"
  architectures = ["arm64"]
  handler       = "bootstrap"

  filename         = local.artifact_paths[each.key]
  source_code_hash = filebase64sha256(local.artifact_paths[each.key])

  memory_size                    = local.functions[each.key].memory_size
  timeout                        = local.functions[each.key].timeout
  reserved_concurrent_executions = local.functions[each.key].reserved_concurrency

  environment {
    variables = local.function_environment[each.key]
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.function[each.key].name
    application_log_level = local.lambda_application_log_level
    system_log_level      = var.lambda_system_log_level
  }

  tags = var.tags

  # The role must be able to write logs before the first invocation.
  depends_on = [aws_iam_role_policy.function]

  lifecycle {
    precondition {
      condition = (
        local.functions[each.key].reserved_concurrency == null ? true :
        local.functions[each.key].reserved_concurrency >= local.functions[each.key].maximum_concurrency
      )
      error_message = "reserved_concurrency of ${each.key} is below its event source maximum_concurrency; the poller would be throttled and messages would cycle to the DLQ."
    }
  }
}

resource "aws_lambda_event_source_mapping" "queue" {
  for_each = local.queue_consumers

  event_source_arn = aws_sqs_queue.main[each.key].arn
  function_name    = aws_lambda_function.service[each.value].arn
  enabled          = true

  batch_size                         = local.functions[each.value].batch_size
  maximum_batching_window_in_seconds = local.functions[each.value].maximum_batching_window_in_seconds
  function_response_types            = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = local.functions[each.value].maximum_concurrency
  }

  tags = var.tags

  # Lambda checks the role's SQS permissions when the mapping is created.
  depends_on = [aws_iam_role_policy.function]
}
