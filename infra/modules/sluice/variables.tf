# ---------------------------------------------------------------------------
# Naming and tagging
# ---------------------------------------------------------------------------

variable "name_prefix" {
  description = "Prefix of every resource name (queues <prefix>-triggers..., table <prefix>-runs, functions <prefix>-scheduler...)."
  type        = string
  default     = "sluice"

  validation {
    # Lower case keeps it valid inside an S3 bucket name; 32 characters keep
    # "<prefix>-data-<account id>" under S3's 63 and role names under IAM's 64.
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 2-32 characters of a-z, 0-9 and '-', start with a letter and not end with '-'."
  }
}

variable "tags" {
  description = "Tags added to every resource that supports them (on top of the provider's default_tags)."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------
# Lambda code and runtime settings
# ---------------------------------------------------------------------------

variable "artifacts_dir" {
  description = "Directory holding <service>.zip for scheduler, dedupe, fetcher and writer (built by `make lambda-zips` into infra/build). Each zip holds the arm64 `bootstrap` binary and pipeline.yaml."
  type        = string
}

variable "pipeline_file" {
  description = "Path of the pipeline config inside the Lambda package (SLUICE_PIPELINE_FILE). Zips are unpacked under /var/task."
  type        = string
  default     = "/var/task/pipeline.yaml"
}

variable "functions" {
  description = <<-EOT
    Per-function settings. Any attribute left out keeps its default:
      memory_size (MB), timeout (s, at most 900), reserved_concurrency (null = unreserved),
      batch_size, maximum_batching_window_in_seconds and maximum_concurrency (>= 2) of the SQS event source mapping.
    The consuming queue's visibility timeout is derived from timeout (see visibility_timeout_multiplier).
  EOT
  type = object({
    scheduler = optional(object({
      memory_size                        = optional(number, 256)
      timeout                            = optional(number, 60)
      reserved_concurrency               = optional(number)
      batch_size                         = optional(number, 10)
      maximum_batching_window_in_seconds = optional(number, 0)
      maximum_concurrency                = optional(number, 2)
    }), {})
    dedupe = optional(object({
      memory_size                        = optional(number, 256)
      timeout                            = optional(number, 60)
      reserved_concurrency               = optional(number)
      batch_size                         = optional(number, 10)
      maximum_batching_window_in_seconds = optional(number, 0)
      maximum_concurrency                = optional(number, 5)
    }), {})
    # One fetch per invocation: a fetch can take minutes, and a batch of
    # them risks the 900 s timeout, which would redeliver the finished ones.
    fetcher = optional(object({
      memory_size                        = optional(number, 512)
      timeout                            = optional(number, 900)
      reserved_concurrency               = optional(number)
      batch_size                         = optional(number, 1)
      maximum_batching_window_in_seconds = optional(number, 0)
      maximum_concurrency                = optional(number, 5)
    }), {})
    writer = optional(object({
      memory_size                        = optional(number, 1024)
      timeout                            = optional(number, 300)
      reserved_concurrency               = optional(number)
      batch_size                         = optional(number, 10)
      maximum_batching_window_in_seconds = optional(number, 0)
      maximum_concurrency                = optional(number, 5)
    }), {})
  })
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for name, f in var.functions : f.timeout >= 1 && f.timeout <= 900])
    error_message = "Each function timeout must be between 1 and 900 seconds."
  }

  validation {
    condition     = alltrue([for name, f in var.functions : f.memory_size >= 128 && f.memory_size <= 10240])
    error_message = "Each function memory_size must be between 128 and 10240 MB."
  }

  validation {
    condition     = alltrue([for name, f in var.functions : f.batch_size >= 1 && f.batch_size <= 10000])
    error_message = "Each batch_size must be between 1 and 10000."
  }

  validation {
    condition     = alltrue([for name, f in var.functions : f.maximum_batching_window_in_seconds >= 0 && f.maximum_batching_window_in_seconds <= 300])
    error_message = "Each maximum_batching_window_in_seconds must be between 0 and 300."
  }

  validation {
    condition     = alltrue([for name, f in var.functions : f.batch_size <= 10 || f.maximum_batching_window_in_seconds >= 1])
    error_message = "A batch_size above 10 needs maximum_batching_window_in_seconds of at least 1 (an SQS event source mapping rule)."
  }

  validation {
    condition     = alltrue([for name, f in var.functions : f.maximum_concurrency >= 2 && f.maximum_concurrency <= 1000])
    error_message = "Each maximum_concurrency must be between 2 and 1000."
  }

  validation {
    condition     = alltrue([for name, f in var.functions : f.reserved_concurrency == null ? true : f.reserved_concurrency >= 0])
    error_message = "reserved_concurrency must be null (unreserved) or >= 0."
  }
}

variable "workers" {
  description = "SLUICE_WORKERS: messages of one batch processed concurrently inside a function."
  type        = number
  default     = 5

  validation {
    condition     = var.workers >= 1
    error_message = "workers must be at least 1."
  }
}

variable "lease" {
  description = "SLUICE_LEASE: how long a claim or heartbeat keeps an input (Go duration). A crashed worker's input is free again at most one lease after its last heartbeat."
  type        = string
  default     = "15m"

  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$", var.lease))
    error_message = "lease must be a Go duration such as 15m or 1h30m."
  }
}

variable "sweep_schedule_expression" {
  description = "How often EventBridge runs the scheduler's sweep, which takes up runs whose worker died and reconciles the DLQs. A crashed run is taken up again within lease + this interval + sweep_grace."
  type        = string
  default     = "rate(1 minute)"
}

variable "sweep_grace" {
  description = "SLUICE_SWEEP_GRACE: how long past its expiry a lease is left before the sweep takes its run up (Go duration): room for the clocks of the workers."
  type        = string
  default     = "30s"

  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$", var.sweep_grace))
    error_message = "sweep_grace must be a Go duration such as 30s."
  }
}

variable "max_takeups" {
  description = "SLUICE_MAX_TAKEUPS: how many times in a row the sweep takes up a run whose worker died before it marks it FAILED (class crashed)."
  type        = number
  default     = 3

  validation {
    condition     = var.max_takeups >= 1 && floor(var.max_takeups) == var.max_takeups
    error_message = "max_takeups must be a whole number, at least 1."
  }
}

variable "heartbeat" {
  description = "SLUICE_HEARTBEAT: how often a working fetcher renews its lease (Go duration); must be under half the lease. Empty: a third of the lease."
  type        = string
  default     = ""

  validation {
    condition     = var.heartbeat == "" || can(regex("^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$", var.heartbeat))
    error_message = "heartbeat must be empty or a Go duration such as 5m."
  }
}

variable "compact_reserve_seconds" {
  description = "SLUICE_COMPACT_RESERVE of the writer, in seconds: after its first file, a commit's compaction starts a file only while more than this is left before the invocation's deadline. The writer timeout must exceed it by at least 60 s."
  type        = number
  default     = 30

  validation {
    condition     = var.compact_reserve_seconds >= 1 && floor(var.compact_reserve_seconds) == var.compact_reserve_seconds
    error_message = "compact_reserve_seconds must be a whole number of seconds, 1 or more."
  }
}

variable "handoff_margin_seconds" {
  description = "SLUICE_HANDOFF_MARGIN of the fetcher, in seconds: a fetch hands over to a new invocation when less than this is left before its deadline. The fetcher timeout must exceed it by at least 60 s."
  type        = number
  default     = 120

  validation {
    condition     = var.handoff_margin_seconds >= 0 && floor(var.handoff_margin_seconds) == var.handoff_margin_seconds
    error_message = "handoff_margin_seconds must be a whole number of seconds, 0 or more."
  }
}

variable "source_secret_arns" {
  description = "Secrets Manager secret ARNs the pipeline config's auth sections reference (secretsmanager:...); the fetcher may read these only."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for arn in var.source_secret_arns : can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", arn))])
    error_message = "Each source_secret_arns entry must be a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)."
  }
}

variable "source_parameter_arns" {
  description = "SSM parameter ARNs the pipeline config's auth sections reference (ssm:...); the fetcher may read these only."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for arn in var.source_parameter_arns : can(regex("^arn:aws[a-z-]*:ssm:[a-z0-9-]+:[0-9]{12}:parameter/.+$", arn))])
    error_message = "Each source_parameter_arns entry must be an SSM parameter ARN (arn:aws:ssm:<region>:<account>:parameter/<name>)."
  }
}

variable "source_secret_kms_key_arns" {
  description = "Customer managed KMS keys that encrypt those secrets or SecureString parameters (none for AWS managed keys)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for arn in var.source_secret_kms_key_arns : can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", arn))])
    error_message = "Each source_secret_kms_key_arns entry must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)."
  }
}

variable "log_level" {
  description = "SLUICE_LOG_LEVEL of the services; also the Lambda application log level filter."
  type        = string
  default     = "info"

  validation {
    condition     = contains(["debug", "info", "warn", "error"], var.log_level)
    error_message = "log_level must be one of debug, info, warn, error."
  }
}

variable "lambda_system_log_level" {
  description = "Lambda system log level (platform START/END/REPORT lines are INFO)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARN"], var.lambda_system_log_level)
    error_message = "lambda_system_log_level must be DEBUG, INFO or WARN."
  }
}

variable "extra_environment" {
  description = "Additional environment variables for every function. The SLUICE_* variables this module sets always win."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "log_retention_in_days" {
  description = "Retention of the functions' CloudWatch log groups."
  type        = number
  default     = 30

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be a value CloudWatch Logs accepts (0 means never expire)."
  }
}

variable "logs_kms_key_arn" {
  description = "Optional KMS key ARN for the log groups (its key policy must allow the CloudWatch Logs service)."
  type        = string
  default     = null

  validation {
    condition     = var.logs_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.logs_kms_key_arn))
    error_message = "logs_kms_key_arn must be null or a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>); an alias is not accepted here."
  }
}

# ---------------------------------------------------------------------------
# Queues
# ---------------------------------------------------------------------------

variable "max_receive_count" {
  description = "Receives before SQS moves a message to its DLQ; also passed to the services as SLUICE_MAX_RECEIVE."
  type        = number
  default     = 5

  validation {
    # Below 5, one throttled or crashed invocation too many parks a healthy
    # message (AWS guidance for Lambda event sources is at least 5).
    condition     = var.max_receive_count >= 5 && var.max_receive_count <= 1000
    error_message = "max_receive_count must be between 5 and 1000."
  }
}

variable "visibility_timeout_multiplier" {
  description = "Queue visibility timeout = multiplier x consuming function timeout + its batching window. AWS recommends at least 6."
  type        = number
  default     = 6

  validation {
    condition     = var.visibility_timeout_multiplier >= 6
    error_message = "visibility_timeout_multiplier must be at least 6 (AWS guidance for SQS event sources)."
  }
}

variable "message_retention_seconds" {
  description = "Retention of the four main queues (default 4 days)."
  type        = number
  default     = 345600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be between 60 and 1209600."
  }
}

variable "dlq_message_retention_seconds" {
  description = "Retention of the DLQs (default 14 days, the maximum). Must exceed the main queues' retention because a message keeps its original enqueue time when it is moved."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_message_retention_seconds >= 60 && var.dlq_message_retention_seconds <= 1209600
    error_message = "dlq_message_retention_seconds must be between 60 and 1209600."
  }
}

variable "max_message_size" {
  description = "Maximum message size in bytes of every queue (SQS allows up to 1 MiB); also the fetcher's batch size limit, SLUICE_MAX_MESSAGE_BYTES."
  type        = number
  default     = 1048576

  validation {
    # The fetcher refuses to start below 32 KiB (services/fetcher, config.Validate).
    condition     = var.max_message_size >= 32768 && var.max_message_size <= 1048576
    error_message = "max_message_size must be between 32768 (the fetcher's minimum SLUICE_MAX_MESSAGE_BYTES) and 1048576."
  }
}

variable "receive_wait_time_seconds" {
  description = "Long-polling wait of every queue (used by the poll transport and sluicectl; Lambda pollers long-poll anyway)."
  type        = number
  default     = 20

  validation {
    condition     = var.receive_wait_time_seconds >= 0 && var.receive_wait_time_seconds <= 20
    error_message = "receive_wait_time_seconds must be between 0 and 20."
  }
}

# ---------------------------------------------------------------------------
# DynamoDB
# ---------------------------------------------------------------------------

variable "dynamodb_deletion_protection" {
  description = "Enable deletion protection on the runs table."
  type        = bool
  default     = true
}

variable "dynamodb_point_in_time_recovery" {
  description = "Enable point-in-time recovery on the runs table."
  type        = bool
  default     = true
}

variable "dynamodb_kms_key_arn" {
  description = "Customer managed KMS key for the runs table. null uses the AWS managed key (aws/dynamodb)."
  type        = string
  default     = null

  validation {
    condition     = var.dynamodb_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.dynamodb_kms_key_arn))
    error_message = "dynamodb_kms_key_arn must be null or a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>); an alias is not accepted here."
  }
}

# ---------------------------------------------------------------------------
# S3
# ---------------------------------------------------------------------------

variable "bucket_name" {
  description = "Name of the data bucket. null means \"<name_prefix>-data-<account id>\"."
  type        = string
  default     = null

  validation {
    # S3's general purpose bucket naming rules, without dots: a dotted name
    # breaks virtual-hosted-style TLS.
    condition = var.bucket_name == null ? true : (
      can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.bucket_name)) &&
      !startswith(var.bucket_name, "xn--") &&
      !startswith(var.bucket_name, "sthree-") &&
      !endswith(var.bucket_name, "-s3alias") &&
      !endswith(var.bucket_name, "--ol-s3")
    )
    error_message = "bucket_name must be 3-63 characters of a-z, 0-9 and '-', start and end with a letter or digit, and not use a prefix or suffix S3 reserves (xn--, sthree-, -s3alias, --ol-s3)."
  }
}

variable "data_key_prefix" {
  description = "Key prefix the writer writes under (SLUICE_S3_PREFIX) and may read, write and delete under (\"\" = whole bucket). Include the trailing slash, e.g. \"raw/\"."
  type        = string
  default     = ""
  nullable    = false

  validation {
    # The writer adds a missing trailing slash itself; the IAM resource
    # "<bucket>/<prefix>*" must match exactly the keys it writes.
    condition     = var.data_key_prefix == "" || can(regex("^[A-Za-z0-9!_.*'()-][A-Za-z0-9!_.*'()/-]*/$", var.data_key_prefix))
    error_message = "data_key_prefix must be empty or end in '/', not start with '/', and use only S3's safe key characters (letters, digits, ! - _ . * ' ( ) /)."
  }
}

variable "s3_versioning_enabled" {
  description = "Enable versioning on the data bucket. Turning it off later suspends versioning."
  type        = bool
  default     = false
}

variable "s3_noncurrent_version_expiration_days" {
  description = "With versioning on, expire noncurrent object versions after this many days (null keeps them)."
  type        = number
  default     = 30
}

variable "s3_kms_key_arn" {
  description = "KMS key for SSE-KMS on the data bucket (with an S3 bucket key). null uses SSE-S3 (AES256)."
  type        = string
  default     = null

  validation {
    condition     = var.s3_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.s3_kms_key_arn))
    error_message = "s3_kms_key_arn must be null or a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>); an alias is not accepted here."
  }
}

variable "s3_force_destroy" {
  description = "Allow `terraform destroy` to delete a non-empty data bucket. Keep false outside throwaway stacks."
  type        = bool
  default     = false
}

# ---------------------------------------------------------------------------
# Schedule
# ---------------------------------------------------------------------------

variable "schedule_enabled" {
  description = "Create the EventBridge Scheduler schedule that starts the daily run."
  type        = bool
  default     = true
}

variable "schedule_expression" {
  description = "EventBridge Scheduler expression (cron(...), rate(...) or at(...))."
  type        = string
  default     = "cron(15 0 * * ? *)"

  validation {
    condition = (
      can(regex("^cron\\(\\S+ \\S+ \\S+ \\S+ \\S+ \\S+\\)$", var.schedule_expression)) ||
      can(regex("^rate\\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\\)$", var.schedule_expression)) ||
      can(regex("^at\\([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\)$", var.schedule_expression))
    )
    error_message = "schedule_expression must be cron(<6 fields>), rate(<n> minutes|hours|days) or at(yyyy-mm-ddThh:mm:ss)."
  }
}

variable "schedule_interval" {
  description = "The longest gap between two fires of schedule_expression, as a Go duration (24h for the default daily cron). Freshness allows a source lag + one window + this + 1h before its alarm fires, so set it with the expression: cron expressions are not parsed here."
  type        = string
  default     = "24h"

  validation {
    condition     = can(regex("^([0-9]+h)?([0-9]+m)?$", var.schedule_interval)) && var.schedule_interval != ""
    error_message = "schedule_interval must be a Go duration in hours and/or minutes, such as 24h, 1h or 1h30m."
  }
}

variable "schedule_timezone" {
  description = "IANA time zone the schedule expression is evaluated in."
  type        = string
  default     = "UTC"
}

variable "schedule_target" {
  description = <<-EOT
    What the schedule invokes:
      "queue"  - sends the trigger message to the <prefix>-triggers queue (the scheduler
                 then receives it as an ordinary SQS record, with the queue's retries and DLQ),
      "lambda" - invokes the scheduler function directly and asynchronously with the same payload (the function must then
                 accept a non-SQS event).
  EOT
  type        = string
  default     = "queue"

  validation {
    condition     = contains(["queue", "lambda"], var.schedule_target)
    error_message = "schedule_target must be \"queue\" or \"lambda\"."
  }
}

variable "schedule_input" {
  description = "JSON payload the schedule delivers. null sends the scheduler's Trigger message {\"v\":1,\"kind\":\"trigger\",\"trigger\":\"schedule\",\"at\":\"<aws.scheduler.scheduled-time>\"} (each source's latest complete window at the scheduled time); add \"sources\" to narrow it. Write it as a literal string: jsonencode escapes < and >, which stops Scheduler from substituting its <aws.scheduler.*> placeholders."
  type        = string
  default     = null

  validation {
    condition     = var.schedule_input == null ? true : can(jsondecode(var.schedule_input))
    error_message = "schedule_input must be valid JSON."
  }
}

variable "schedule_retry" {
  description = "Retry policy of the schedule's target invocation; after it is exhausted the event goes to the triggers DLQ."
  type = object({
    maximum_event_age_in_seconds = optional(number, 3600)
    maximum_retry_attempts       = optional(number, 5)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.schedule_retry.maximum_event_age_in_seconds >= 60 && var.schedule_retry.maximum_event_age_in_seconds <= 86400
    error_message = "schedule_retry.maximum_event_age_in_seconds must be between 60 and 86400."
  }

  validation {
    condition     = var.schedule_retry.maximum_retry_attempts >= 0 && var.schedule_retry.maximum_retry_attempts <= 185
    error_message = "schedule_retry.maximum_retry_attempts must be between 0 and 185."
  }
}

# ---------------------------------------------------------------------------
# Alarms
# ---------------------------------------------------------------------------

variable "create_alarms" {
  description = "Create the CloudWatch alarms (DLQ not empty, oldest message too old, Lambda errors and throttles) and, unless alarm_topic_arn is set, their SNS topic."
  type        = bool
  default     = true
}

variable "alarm_topic_arn" {
  description = "SNS topic every alarm notifies (on ALARM and on OK). null creates \"<name_prefix>-alarms\"; subscribe to it (alarm_email_addresses, or your paging tool)."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", var.alarm_topic_arn))
    error_message = "alarm_topic_arn must be null or an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)."
  }
}

variable "alarm_topic_kms_key_arn" {
  description = "Customer managed KMS key for the created alarm topic (its key policy must let cloudwatch.amazonaws.com use it). null leaves the topic unencrypted: CloudWatch cannot publish to a topic under the AWS managed key aws/sns."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_topic_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.alarm_topic_kms_key_arn))
    error_message = "alarm_topic_kms_key_arn must be null or a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)."
  }
}

variable "alarm_email_addresses" {
  description = "E-mail addresses subscribed to the created alarm topic (each must confirm the subscription AWS mails it)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for a in var.alarm_email_addresses : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", a))])
    error_message = "Each alarm_email_addresses entry must be an e-mail address."
  }
}

variable "alarm_actions" {
  description = "More ARNs notified when an alarm fires, besides the alarm topic."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for arn in var.alarm_actions : can(regex("^arn:aws[a-z-]*:[a-z0-9-]+:", arn))])
    error_message = "Each alarm_actions entry must be an ARN."
  }
}

variable "ok_actions" {
  description = "More ARNs notified when an alarm returns to OK, besides the alarm topic."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for arn in var.ok_actions : can(regex("^arn:aws[a-z-]*:[a-z0-9-]+:", arn))])
    error_message = "Each ok_actions entry must be an ARN."
  }
}

variable "oldest_message_age_alarm_seconds" {
  description = <<-EOT
    Alarm when a main queue's ApproximateAgeOfOldestMessage stays above this many seconds. null (the default of each)
    derives it from the queue: its visibility timeout plus the consumer's timeout (one redelivery after a timed-out
    invocation is normal), and at least 900 s. An explicit value must exceed the queue's visibility timeout.
  EOT
  type = object({
    triggers = optional(number)
    inputs   = optional(number)
    fetch    = optional(number)
    batches  = optional(number)
  })
  default  = {}
  nullable = false
}

variable "alarm_evaluation_periods" {
  description = "Consecutive 1-minute periods the oldest-message age must breach before alarming."
  type        = number
  default     = 5

  validation {
    condition     = var.alarm_evaluation_periods >= 1
    error_message = "alarm_evaluation_periods must be at least 1."
  }
}

variable "lambda_alarm_period_seconds" {
  description = "Period of the Lambda Errors and Throttles alarms: either fires when its function had any in one period."
  type        = number
  default     = 300

  validation {
    condition     = contains([60, 300, 900, 3600], var.lambda_alarm_period_seconds)
    error_message = "lambda_alarm_period_seconds must be 60, 300, 900 or 3600."
  }
}

# ---------------------------------------------------------------------------
# Data catalog and Athena
# ---------------------------------------------------------------------------

variable "pipeline_config_file" {
  description = "Path (on the machine running Terraform) of the pipeline config the zips were built with; each of its sources gets a Glue table. `make lambda-zips` copies it to <artifacts_dir>/pipeline.yaml. null creates no tables."
  type        = string
  default     = null
}

variable "glue_database_name" {
  description = "Glue database of the source tables; null means name_prefix with '-' as '_'."
  type        = string
  default     = null

  validation {
    condition     = var.glue_database_name == null || can(regex("^[a-z_][a-z0-9_]{0,254}$", var.glue_database_name))
    error_message = "glue_database_name must be null or 1-255 characters of a-z, 0-9 and '_', not starting with a digit (what Athena accepts unquoted)."
  }
}

variable "glue_projection_start" {
  description = "First dt a table projects for a source whose partition.start is not set (yyyy-MM-dd); earlier days are never queried."
  type        = string
  default     = "2020-01-01"

  validation {
    condition     = can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}$", var.glue_projection_start))
    error_message = "glue_projection_start must be a date written yyyy-MM-dd."
  }
}

variable "athena_results_bucket_name" {
  description = "Bucket of the Athena workgroup's query results; null means <name_prefix>-athena-<account id>."
  type        = string
  default     = null

  validation {
    condition     = var.athena_results_bucket_name == null || can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.athena_results_bucket_name))
    error_message = "athena_results_bucket_name must be null or 3-63 characters of a-z, 0-9 and '-' (no dots), starting and ending with a letter or digit."
  }
}

variable "athena_results_expiration_days" {
  description = "Days after which query results are deleted from the results bucket."
  type        = number
  default     = 30

  validation {
    condition     = var.athena_results_expiration_days >= 1 && floor(var.athena_results_expiration_days) == var.athena_results_expiration_days
    error_message = "athena_results_expiration_days must be a whole number of days, at least 1."
  }
}

variable "athena_bytes_scanned_cutoff_per_query" {
  description = "Bytes a query of the workgroup may scan before Athena cancels it (at least 10485760); null sets no limit."
  type        = number
  default     = null

  validation {
    condition     = var.athena_bytes_scanned_cutoff_per_query == null || try(var.athena_bytes_scanned_cutoff_per_query >= 10485760, false)
    error_message = "athena_bytes_scanned_cutoff_per_query must be null or at least 10485760 (10 MB, Athena's minimum)."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the metrics the services' log lines carry (SLUICE_METRICS_NAMESPACE; the dashboard and freshness alarms read it)."
  type        = string
  default     = "Sluice"

  validation {
    condition     = length(var.metrics_namespace) >= 1 && length(var.metrics_namespace) <= 255 && !startswith(var.metrics_namespace, "AWS/")
    error_message = "metrics_namespace must be 1 to 255 characters and not start with AWS/."
  }
}

variable "create_dashboard" {
  description = "Create the CloudWatch dashboard \"<name_prefix>-pipeline\" (runs, records, failures and freshness by source, messages by service, queues and DLQs)."
  type        = bool
  default     = true
}

variable "freshness_alarm_evaluation_periods" {
  description = "Consecutive 5-minute periods a source must be stale (or unmeasured) before its freshness alarm fires."
  type        = number
  default     = 2

  validation {
    condition     = var.freshness_alarm_evaluation_periods >= 1
    error_message = "freshness_alarm_evaluation_periods must be at least 1."
  }
}
