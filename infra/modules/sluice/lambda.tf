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
    # sluicectl schema reads the published files under it ("" = the root).
    SLUICE_S3_PREFIX = var.data_key_prefix
    # sluicectl status judges freshness as the scheduler's sweep does.
    SLUICE_SCHEDULE_INTERVAL = var.schedule_interval
  }

  # Configuration every function reads (README, "Service configuration
  # reference"). SLUICE_DLQ_URL, the DLQ of the queue the service consumes,
  # is added per function below.
  shared_environment = {
    SLUICE_PIPELINE_FILE = var.pipeline_file
    SLUICE_WORKERS       = tostring(var.workers)
    SLUICE_LOG_LEVEL     = var.log_level
    SLUICE_TRANSPORT     = "lambda"
    SLUICE_MAX_RECEIVE   = tostring(var.max_receive_count)
    # The namespace of the metrics on their log lines (the dashboard's).
    SLUICE_METRICS_NAMESPACE = var.metrics_namespace
  }

  # The run store's settings, for the services that keep runs.
  runs_environment = merge({
    SLUICE_RUNS_TABLE = local.stack_environment.SLUICE_RUNS_TABLE
    SLUICE_LEASE      = var.lease
  }, var.heartbeat == "" ? {} : { SLUICE_HEARTBEAT = var.heartbeat })

  # What each service reads besides: the queues it consumes and sends to,
  # the run store if it keeps runs, and settings each from the variable
  # that also sets the infrastructure side it must agree with: the writer's
  # key prefix is the one its IAM policy allows, the fetcher's batch limit
  # is the queues' max_message_size, and its hand-over margin is checked
  # against its timeout. Exactly what each main.go reads, no more
  # (scripts/infracheck checks both the HCL and the plan).
  service_environment = {
    # The sweep takes up runs whose worker died and reconciles the DLQs of
    # the queues that carry runs (SLUICE_SWEEP_EVERY is the poller's; on
    # Lambda the sweep rule's rate is the interval).
    scheduler = merge(local.runs_environment, {
      SLUICE_TRIGGERS_QUEUE_URL = local.stack_environment.SLUICE_TRIGGERS_QUEUE_URL
      SLUICE_INPUTS_QUEUE_URL   = local.stack_environment.SLUICE_INPUTS_QUEUE_URL
      SLUICE_INPUTS_DLQ_URL     = aws_sqs_queue.dlq["inputs"].url
      SLUICE_FETCH_DLQ_URL      = aws_sqs_queue.dlq["fetch"].url
      SLUICE_BATCHES_DLQ_URL    = aws_sqs_queue.dlq["batches"].url
      SLUICE_SWEEP_GRACE        = var.sweep_grace
      SLUICE_MAX_TAKEUPS        = tostring(var.max_takeups)
      SLUICE_SCHEDULE_INTERVAL  = var.schedule_interval
    })
    # The claim numbers its attempt above what the bucket holds, under the
    # writer's prefix.
    dedupe = merge(local.runs_environment, {
      SLUICE_INPUTS_QUEUE_URL = local.stack_environment.SLUICE_INPUTS_QUEUE_URL
      SLUICE_FETCH_QUEUE_URL  = local.stack_environment.SLUICE_FETCH_QUEUE_URL
      SLUICE_BUCKET           = local.stack_environment.SLUICE_BUCKET
    }, var.data_key_prefix == "" ? {} : { SLUICE_S3_PREFIX = var.data_key_prefix })
    fetcher = merge(local.runs_environment, {
      SLUICE_FETCH_QUEUE_URL   = local.stack_environment.SLUICE_FETCH_QUEUE_URL
      SLUICE_BATCHES_QUEUE_URL = local.stack_environment.SLUICE_BATCHES_QUEUE_URL
      SLUICE_MAX_MESSAGE_BYTES = tostring(var.max_message_size)
      SLUICE_HANDOFF_MARGIN    = "${var.handoff_margin_seconds}s"
    })
    writer = merge(local.runs_environment, {
      SLUICE_BATCHES_QUEUE_URL = local.stack_environment.SLUICE_BATCHES_QUEUE_URL
      SLUICE_BUCKET            = local.stack_environment.SLUICE_BUCKET
      SLUICE_COMPACT_RESERVE   = "${var.compact_reserve_seconds}s"
      # Unset, not empty, without a prefix: the writer's default is none.
    }, var.data_key_prefix == "" ? {} : { SLUICE_S3_PREFIX = var.data_key_prefix })
  }

  function_environment = {
    for service, queue in local.consumed_queue : service => merge(
      var.extra_environment,
      local.shared_environment,
      local.service_environment[service],
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

    # A fetch hands over once less than the margin is left (less the up to
    # 10 s the Lambda adapter keeps to answer); with no minute left for
    # pages, every hop would hand over after its first page.
    precondition {
      condition     = each.key != "fetcher" || local.functions.fetcher.timeout >= var.handoff_margin_seconds + 60
      error_message = "functions.fetcher.timeout (${local.functions.fetcher.timeout} s) must be at least handoff_margin_seconds (${var.handoff_margin_seconds} s) + 60 s."
    }

    # A compaction starts a further file only while more than the reserve
    # is left; a writer whose timeout is within a minute of it would
    # continue its commit after every file.
    precondition {
      condition     = each.key != "writer" || local.functions.writer.timeout >= var.compact_reserve_seconds + 60
      error_message = "functions.writer.timeout (${local.functions.writer.timeout} s) must be at least compact_reserve_seconds (${var.compact_reserve_seconds} s) + 60 s."
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
