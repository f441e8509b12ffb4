# One role per function. Every role may write its own logs, consume its own
# queue and park messages on that queue's DLQ; the statements below add only
# what each service's next step needs. The consuming services never read a
# run item (no GetItem): they change it with conditional writes that return
# it. Only the scheduler's sweep reads runs (the open-leases index, and the
# run of each DLQ message it judges).

locals {
  sqs_consume_actions = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    # The consumer reads its queue's RedrivePolicy (maxReceiveCount) at
    # start-up, so the last receive it acts on is the queue's.
    "sqs:GetQueueAttributes",
  ]

  bucket_objects_arn = "${aws_s3_bucket.data.arn}/${var.data_key_prefix}*"

  # Service-specific statements. conditions is a list of {test, variable, values}.
  service_statements = {
    scheduler = [
      {
        sid        = "SendInputs"
        actions    = ["sqs:SendMessage"]
        resources  = [aws_sqs_queue.main["inputs"].arn]
        conditions = []
      },
      {
        # The sweep: the open runs past their lease, from the sparse index.
        sid        = "FindExpiredRuns"
        actions    = ["dynamodb:Query"]
        resources  = ["${aws_dynamodb_table.runs.arn}/index/open-leases"]
        conditions = []
      },
      {
        # Counting a take-up or failing a run past its budget (UpdateItem,
        # and PutItem for its attempt's history), reading the run of a DLQ
        # message (GetItem).
        sid        = "TakeUpRuns"
        actions    = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
        resources  = [aws_dynamodb_table.runs.arn]
        conditions = []
      },
      {
        # Each sweep's freshness of every source: its latest SUCCEEDED
        # window among its latest due ones, read by key.
        sid        = "ReadFreshness"
        actions    = ["dynamodb:BatchGetItem"]
        resources  = [aws_dynamodb_table.runs.arn]
        conditions = []
      },
      {
        # Reconciling the DLQs of the queues that carry runs: delete what is
        # no longer needed, park again with its reason (SendMessage) what
        # came with none, make the rest visible again.
        sid        = "ReconcileDLQs"
        actions    = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:SendMessage", "sqs:ChangeMessageVisibility"]
        resources  = [for q in ["inputs", "fetch", "batches"] : aws_sqs_queue.dlq[q].arn]
        conditions = []
      },
    ]

    dedupe = [
      {
        sid        = "ClaimRuns"
        actions    = ["dynamodb:PutItem", "dynamodb:UpdateItem"]
        resources  = [aws_dynamodb_table.runs.arn]
        conditions = []
      },
      {
        sid        = "SendFetch"
        actions    = ["sqs:SendMessage"]
        resources  = [aws_sqs_queue.main["fetch"].arn]
        conditions = []
      },
      {
        # The claim numbers its attempt above every attempt the bucket
        # holds for the input: a HEAD of the partition's pointer (GetObject
        # covers HeadObject; it reads metadata only) and a LIST of its
        # attempt=<n>/ folders. ListBucket without an s3:prefix condition,
        # for the writer's reason below (a missing pointer must be a 404).
        sid        = "ReadAttempts"
        actions    = ["s3:GetObject"]
        resources  = [local.bucket_objects_arn]
        conditions = []
      },
      {
        sid        = "ListAttempts"
        actions    = ["s3:ListBucket"]
        resources  = [aws_s3_bucket.data.arn]
        conditions = []
      },
    ]

    fetcher = [
      {
        sid        = "TrackRuns"
        actions    = ["dynamodb:PutItem", "dynamodb:UpdateItem"]
        resources  = [aws_dynamodb_table.runs.arn]
        conditions = []
      },
      {
        sid        = "SendBatches"
        actions    = ["sqs:SendMessage"]
        resources  = [aws_sqs_queue.main["batches"].arn]
        conditions = []
      },
      {
        # A fetch that would outlive its invocation hands over by sending
        # itself a continuation message.
        sid        = "SendContinuations"
        actions    = ["sqs:SendMessage"]
        resources  = [aws_sqs_queue.main["fetch"].arn]
        conditions = []
      },
    ]

    writer = [
      {
        sid        = "CommitRuns"
        actions    = ["dynamodb:PutItem", "dynamodb:UpdateItem"]
        resources  = [aws_dynamodb_table.runs.arn]
        conditions = []
      },
      {
        # A commit's continuation: the run's Done message again, to the
        # queue the writer reads.
        sid        = "ContinueCommits"
        actions    = ["sqs:SendMessage"]
        resources  = [aws_sqs_queue.main["batches"].arn]
        conditions = []
      },
      {
        # GetObject also covers HeadObject; PutObject covers the multipart
        # upload of a compacted file (create, upload part, complete), which
        # the writer aborts on failure; DeleteObjects needs DeleteObject.
        sid        = "WriteObjects"
        actions    = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
        resources  = [local.bucket_objects_arn]
        conditions = []
      },
      {
        # After a publish, the uploads a killed committer left under its
        # attempt are listed and aborted.
        sid        = "ListUploads"
        actions    = ["s3:ListBucketMultipartUploads"]
        resources  = [aws_s3_bucket.data.arn]
        conditions = []
      },
      {
        # Without an s3:prefix condition on purpose: S3 answers a HeadObject
        # of a missing key with 404 only to a caller allowed ListBucket on
        # the bucket, and that check carries no s3:prefix, so a condition
        # would turn "no pointer yet" into a 403 the writer retries to the
        # DLQ. It reveals key names, not contents.
        sid        = "ListObjects"
        actions    = ["s3:ListBucket"]
        resources  = [aws_s3_bucket.data.arn]
        conditions = []
      },
    ]
  }

  # Customer managed keys, only when configured; both are used through the
  # owning service only.
  dynamodb_kms_statements = var.dynamodb_kms_key_arn == null ? [] : [
    {
      sid = "UseRunsTableKey"
      # What "kms:GenerateDataKey*" meant, spelled out (no wildcard
      # actions): DynamoDB asks for symmetric data keys only.
      actions    = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey"]
      resources  = [var.dynamodb_kms_key_arn]
      conditions = [{ test = "StringEquals", variable = "kms:ViaService", values = ["dynamodb.${data.aws_region.current.region}.amazonaws.com"] }]
    },
  ]

  s3_kms_statements = var.s3_kms_key_arn == null ? [] : [
    {
      sid        = "UseBucketKey"
      actions    = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources  = [var.s3_kms_key_arn]
      conditions = [{ test = "StringEquals", variable = "kms:ViaService", values = ["s3.${data.aws_region.current.region}.amazonaws.com"] }]
    },
  ]

  # Source credentials: the secrets and parameters the pipeline config
  # references (auth: ... secretsmanager:/ssm:), read by the fetcher only.
  source_secret_statements = concat(
    length(var.source_secret_arns) == 0 ? [] : [
      {
        sid        = "ReadSourceSecrets"
        actions    = ["secretsmanager:GetSecretValue"]
        resources  = var.source_secret_arns
        conditions = []
      },
    ],
    length(var.source_parameter_arns) == 0 ? [] : [
      {
        sid        = "ReadSourceParameters"
        actions    = ["ssm:GetParameter"]
        resources  = var.source_parameter_arns
        conditions = []
      },
    ],
    length(var.source_secret_kms_key_arns) == 0 ? [] : [
      {
        sid        = "DecryptSourceSecrets"
        actions    = ["kms:Decrypt"]
        resources  = var.source_secret_kms_key_arns
        conditions = []
      },
    ],
  )

  extra_statements = {
    scheduler = local.dynamodb_kms_statements
    dedupe    = concat(local.dynamodb_kms_statements, local.s3_kms_statements)
    fetcher   = concat(local.dynamodb_kms_statements, local.source_secret_statements)
    writer    = concat(local.dynamodb_kms_statements, local.s3_kms_statements)
  }
}

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    sid     = "LambdaAssume"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  for_each = local.function_names

  name               = "${each.value}-lambda"
  description        = "Execution role of the Sluice ${each.key} function."
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "function" {
  for_each = local.function_names

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function[each.key].arn}:*"]
  }

  statement {
    sid       = "ConsumeOwnQueue"
    actions   = local.sqs_consume_actions
    resources = [aws_sqs_queue.main[local.consumed_queue[each.key]].arn]
  }

  statement {
    sid       = "ParkOnOwnDLQ"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq[local.consumed_queue[each.key]].arn]
  }

  dynamic "statement" {
    for_each = concat(local.service_statements[each.key], local.extra_statements[each.key])

    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources

      dynamic "condition" {
        for_each = statement.value.conditions

        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }
}

resource "aws_iam_role_policy" "function" {
  for_each = local.function_names

  name   = "${each.value}-access"
  role   = aws_iam_role.function[each.key].id
  policy = data.aws_iam_policy_document.function[each.key].json
}
