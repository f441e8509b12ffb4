output "queue_urls" {
  description = "URL of each main queue, by short name (triggers, inputs, fetch, batches)."
  value       = { for name, queue in aws_sqs_queue.main : name => queue.url }
}

output "queue_arns" {
  description = "ARN of each main queue, by short name."
  value       = { for name, queue in aws_sqs_queue.main : name => queue.arn }
}

output "dlq_urls" {
  description = "URL of each DLQ, by the short name of its main queue."
  value       = { for name, queue in aws_sqs_queue.dlq : name => queue.url }
}

output "dlq_arns" {
  description = "ARN of each DLQ, by the short name of its main queue (the --source-arn of a redrive)."
  value       = { for name, queue in aws_sqs_queue.dlq : name => queue.arn }
}

output "runs_table_name" {
  description = "Name of the DynamoDB runs table."
  value       = aws_dynamodb_table.runs.name
}

output "runs_table_arn" {
  description = "ARN of the DynamoDB runs table."
  value       = aws_dynamodb_table.runs.arn
}

output "bucket_name" {
  description = "Name of the S3 data bucket."
  value       = aws_s3_bucket.data.bucket
}

output "bucket_arn" {
  description = "ARN of the S3 data bucket."
  value       = aws_s3_bucket.data.arn
}

output "function_names" {
  description = "Lambda function name of each service."
  value       = { for service, function in aws_lambda_function.service : service => function.function_name }
}

output "function_arns" {
  description = "Lambda function ARN of each service."
  value       = { for service, function in aws_lambda_function.service : service => function.arn }
}

output "function_role_arns" {
  description = "Execution role ARN of each service."
  value       = { for service, role in aws_iam_role.function : service => role.arn }
}

output "log_group_names" {
  description = "CloudWatch log group of each service."
  value       = { for service, group in aws_cloudwatch_log_group.function : service => group.name }
}

output "schedule_arn" {
  description = "ARN of the EventBridge Scheduler schedule (null when schedule_enabled is false)."
  value       = one(aws_scheduler_schedule.run[*].arn)
}

output "environment" {
  description = "SLUICE_* variables locating this stack (table, bucket, queue URLs, max receive), e.g. for sluicectl."
  value       = local.stack_environment
}

output "operator_policy_arn" {
  description = "ARN of the managed policy granting what sluicectl needs against this stack; attach it to the operators' role or group."
  value       = aws_iam_policy.operator.arn
}

output "operator_policy_json" {
  description = "The operator policy document, for use outside this account's IAM (e.g. an SSO permission set)."
  value       = data.aws_iam_policy_document.operator.json
}

output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies (null when create_alarms is false)."
  value       = local.alarm_topic_arn
}

output "glue_database_name" {
  description = "Glue database holding one table per source."
  value       = aws_glue_catalog_database.this.name
}

output "glue_table_names" {
  description = "Glue table of each source, by source name."
  value       = { for name, table in aws_glue_catalog_table.source : name => table.name }
}

output "athena_workgroup_name" {
  description = "Athena workgroup to query the tables in (its results are encrypted and expire)."
  value       = aws_athena_workgroup.this.name
}

output "athena_results_bucket_name" {
  description = "Bucket of the workgroup's query results."
  value       = aws_s3_bucket.athena_results.bucket
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard (null when create_dashboard is false)."
  value       = one(aws_cloudwatch_dashboard.pipeline[*].dashboard_name)
}

output "dashboard_url" {
  description = "Console URL of the CloudWatch dashboard (null when create_dashboard is false)."
  value       = var.create_dashboard ? "https://${data.aws_region.current.region}.console.aws.amazon.com/cloudwatch/home?region=${data.aws_region.current.region}#dashboards/dashboard/${local.dashboard_name}" : null
}

output "freshness_alarm_names" {
  description = "Name of each source's freshness alarm, by source."
  value       = { for s, a in aws_cloudwatch_metric_alarm.freshness : s => a.alarm_name }
}
