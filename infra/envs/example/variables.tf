variable "region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "us-east-1"
}

variable "environment" {
  description = "Environment name, used only as a tag."
  type        = string
  default     = "example"
}

variable "tags" {
  description = "Extra default tags for every resource."
  type        = map(string)
  default     = {}
}

variable "name_prefix" {
  description = "Prefix of every resource name."
  type        = string
  default     = "sluice"
}

variable "artifacts_dir" {
  description = "Directory with the Lambda zips. null means infra/build relative to this directory."
  type        = string
  default     = null
}

variable "functions" {
  description = "Per-function overrides (memory_size, timeout, reserved_concurrency, batch_size, maximum_batching_window_in_seconds, maximum_concurrency); anything left out keeps the module's default (see its variable of the same name)."
  type = object({
    scheduler = optional(object({
      memory_size                        = optional(number)
      timeout                            = optional(number)
      reserved_concurrency               = optional(number)
      batch_size                         = optional(number)
      maximum_batching_window_in_seconds = optional(number)
      maximum_concurrency                = optional(number)
    }))
    dedupe = optional(object({
      memory_size                        = optional(number)
      timeout                            = optional(number)
      reserved_concurrency               = optional(number)
      batch_size                         = optional(number)
      maximum_batching_window_in_seconds = optional(number)
      maximum_concurrency                = optional(number)
    }))
    fetcher = optional(object({
      memory_size                        = optional(number)
      timeout                            = optional(number)
      reserved_concurrency               = optional(number)
      batch_size                         = optional(number)
      maximum_batching_window_in_seconds = optional(number)
      maximum_concurrency                = optional(number)
    }))
    writer = optional(object({
      memory_size                        = optional(number)
      timeout                            = optional(number)
      reserved_concurrency               = optional(number)
      batch_size                         = optional(number)
      maximum_batching_window_in_seconds = optional(number)
      maximum_concurrency                = optional(number)
    }))
  })
  default  = {}
  nullable = false
}

variable "max_receive_count" {
  description = "Receives before a message moves to its DLQ (also SLUICE_MAX_RECEIVE)."
  type        = number
  default     = 5
}

variable "log_level" {
  description = "Service log level: debug, info, warn or error."
  type        = string
  default     = "info"
}

variable "log_retention_in_days" {
  description = "Retention of the Lambda log groups."
  type        = number
  default     = 30
}

variable "dynamodb_deletion_protection" {
  description = "Deletion protection on the runs table."
  type        = bool
  default     = true
}

variable "bucket_name" {
  description = "Data bucket name; null means <name_prefix>-data-<account id>."
  type        = string
  default     = null
}

variable "s3_versioning_enabled" {
  description = "Enable versioning on the data bucket."
  type        = bool
  default     = false
}

variable "s3_force_destroy" {
  description = "Allow destroying a non-empty data bucket."
  type        = bool
  default     = false
}

variable "schedule_enabled" {
  description = "Create the daily schedule."
  type        = bool
  default     = true
}

variable "schedule_expression" {
  description = "EventBridge Scheduler expression of the daily run."
  type        = string
  default     = "cron(15 0 * * ? *)"
}

variable "schedule_target" {
  description = "\"queue\" (trigger message on the triggers queue) or \"lambda\" (invoke the scheduler function directly)."
  type        = string
  default     = "queue"
}

variable "data_key_prefix" {
  description = "Key prefix of everything the writer stores (\"\" = the bucket's root), e.g. \"raw/\"."
  type        = string
  default     = ""
}

variable "alarm_topic_arn" {
  description = "Your SNS topic for the alarms; null creates <name_prefix>-alarms."
  type        = string
  default     = null
}

variable "alarm_email_addresses" {
  description = "E-mail addresses subscribed to the created alarm topic."
  type        = list(string)
  default     = []
}

variable "alarm_actions" {
  description = "More ARNs (e.g. SNS topics) notified when an alarm fires or clears, besides the alarm topic."
  type        = list(string)
  default     = []
}

variable "pipeline_config_file" {
  description = "Pipeline config whose sources become Glue tables. null means <artifacts_dir>/pipeline.yaml, the copy `make lambda-zips` writes beside the zips."
  type        = string
  default     = null
}
