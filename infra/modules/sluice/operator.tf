# A managed policy with exactly what `sluicectl` needs against this stack;
# attach it to the operators' role or group. Each statement names the
# commands that use it.

data "aws_iam_policy_document" "operator" {
  statement {
    # trigger and backfill send inputs; schedule sends triggers; redrive of
    # fetch or batches re-triggers inputs, and of triggers or inputs moves
    # messages back client-side where StartMessageMoveTask fails.
    sid     = "SendInputsAndTriggers"
    actions = ["sqs:SendMessage"]
    resources = [
      aws_sqs_queue.main["triggers"].arn,
      aws_sqs_queue.main["inputs"].arn,
    ]
  }

  statement {
    # redrive --queue triggers|inputs reads the queue's ARN as the move
    # task's destination.
    sid     = "ReadMoveDestinations"
    actions = ["sqs:GetQueueAttributes"]
    resources = [
      aws_sqs_queue.main["triggers"].arn,
      aws_sqs_queue.main["inputs"].arn,
    ]
  }

  statement {
    # redrive reads, deletes and releases DLQ messages, and starts (or, by
    # hand, lists and cancels) move tasks from the DLQs. A move task also
    # needs Receive/Delete/GetQueueAttributes on its source and SendMessage
    # on its destination, granted above and here.
    sid = "RedriveDLQs"
    actions = [
      "sqs:GetQueueAttributes",
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:StartMessageMoveTask",
      "sqs:ListMessageMoveTasks",
      "sqs:CancelMessageMoveTask",
    ]
    resources = [for queue in aws_sqs_queue.dlq : queue.arn]
  }

  statement {
    # runs (GetItem, Query, Scan), status and --wait (BatchGetItem:
    # GetMany, LatestSucceeded), trigger and redrive of fetch/batches
    # (GetItem), release (GetItem, then
    # the conditional UpdateItem and history PutItem of a failed run).
    sid = "ReadAndReleaseRuns"
    actions = [
      "dynamodb:GetItem",
      "dynamodb:BatchGetItem",
      "dynamodb:Query",
      "dynamodb:Scan",
      "dynamodb:UpdateItem",
      "dynamodb:PutItem",
    ]
    resources = [aws_dynamodb_table.runs.arn]
  }

  statement {
    # schema reads the files a partition's pointer lists, and the pointer.
    sid     = "ReadPublishedData"
    actions = ["s3:GetObject"]
    #tfsec:ignore:aws-iam-no-policy-wildcards The files a pointer lists have keys known only once published; the wildcard is the data prefix's objects, read only, as dedupe's ReadAttempts.
    resources = [local.bucket_objects_arn]
  }

  statement {
    # schema without --window lists the source's pointers to find the
    # latest.
    sid       = "ListPublishedData"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.data.arn]
  }

  dynamic "statement" {
    for_each = concat(local.dynamodb_kms_statements, local.s3_kms_statements)

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

resource "aws_iam_policy" "operator" {
  name        = "${var.name_prefix}-operator"
  description = "What sluicectl needs against the ${var.name_prefix} Sluice stack (trigger, schedule, runs, release, backfill, redrive, schema)."
  policy      = data.aws_iam_policy_document.operator.json

  tags = var.tags
}
