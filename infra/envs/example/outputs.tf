output "queue_urls" {
  description = "Main queue URLs."
  value       = module.sluice.queue_urls
}

output "queue_arns" {
  description = "Main queue ARNs (for aws sqs start-message-move-task --destination-arn)."
  value       = module.sluice.queue_arns
}

output "dlq_urls" {
  description = "DLQ URLs."
  value       = module.sluice.dlq_urls
}

output "dlq_arns" {
  description = "DLQ ARNs (for aws sqs start-message-move-task --source-arn; see infra/README.md before moving fetch or batches messages)."
  value       = module.sluice.dlq_arns
}

output "runs_table_name" {
  description = "DynamoDB runs table."
  value       = module.sluice.runs_table_name
}

output "bucket_name" {
  description = "S3 data bucket."
  value       = module.sluice.bucket_name
}

output "function_names" {
  description = "Lambda function names."
  value       = module.sluice.function_names
}

output "schedule_arn" {
  description = "EventBridge Scheduler schedule."
  value       = module.sluice.schedule_arn
}

output "operator_policy_arn" {
  description = "Managed policy with what sluicectl needs; attach it to your operators."
  value       = module.sluice.operator_policy_arn
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms notify; subscribe to it."
  value       = module.sluice.alarm_topic_arn
}

output "environment" {
  description = "SLUICE_* variables locating this stack, e.g. for sluicectl."
  value       = module.sluice.environment
}

output "glue_database_name" {
  description = "Glue database with one table per source (query it in the Athena workgroup)."
  value       = module.sluice.glue_database_name
}

output "glue_table_names" {
  description = "Glue table of each source, by source name."
  value       = module.sluice.glue_table_names
}

output "athena_workgroup_name" {
  description = "Athena workgroup for the tables."
  value       = module.sluice.athena_workgroup_name
}

output "dashboard_url" {
  description = "Console URL of the pipeline's CloudWatch dashboard."
  value       = module.sluice.dashboard_url
}
