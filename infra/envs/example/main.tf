provider "aws" {
  region = var.region

  default_tags {
    tags = merge(
      {
        Project     = "sluice"
        Environment = var.environment
        ManagedBy   = "terraform"
      },
      var.tags,
    )
  }
}

module "sluice" {
  source = "../../modules/sluice"

  name_prefix   = var.name_prefix
  artifacts_dir = coalesce(var.artifacts_dir, "${path.root}/../../build")

  # The copy of the pipeline config `make lambda-zips` leaves beside the
  # zips: the tables are built from the config the functions run with.
  pipeline_config_file = coalesce(var.pipeline_config_file, "${coalesce(var.artifacts_dir, "${path.root}/../../build")}/pipeline.yaml")

  functions         = var.functions
  max_receive_count = var.max_receive_count
  log_level         = var.log_level

  log_retention_in_days = var.log_retention_in_days

  dynamodb_deletion_protection = var.dynamodb_deletion_protection

  bucket_name           = var.bucket_name
  data_key_prefix       = var.data_key_prefix
  s3_versioning_enabled = var.s3_versioning_enabled
  s3_force_destroy      = var.s3_force_destroy

  schedule_enabled    = var.schedule_enabled
  schedule_expression = var.schedule_expression
  schedule_target     = var.schedule_target

  alarm_topic_arn       = var.alarm_topic_arn
  alarm_email_addresses = var.alarm_email_addresses
  alarm_actions         = var.alarm_actions
  ok_actions            = var.alarm_actions
}
