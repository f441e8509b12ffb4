# Run ledger: dedupe claims inputs here with conditional writes and leases,
# the fetcher and writer record progress, and items expire via expires_at.
# The sparse index open-leases holds only the open runs (a claim sets
# lease_open, a run's end removes it), sorted by lease_until: the
# scheduler's sweep queries it for runs whose worker died, never a scan.

resource "aws_dynamodb_table" "runs" {
  name                        = "${var.name_prefix}-runs"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.dynamodb_deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  attribute {
    name = "lease_open"
    type = "S"
  }

  attribute {
    name = "lease_until"
    type = "N"
  }

  global_secondary_index {
    name            = "open-leases"
    projection_type = "ALL"

    key_schema {
      attribute_name = "lease_open"
      key_type       = "HASH"
    }

    key_schema {
      attribute_name = "lease_until"
      key_type       = "RANGE"
    }
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = var.dynamodb_point_in_time_recovery
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.dynamodb_kms_key_arn
  }

  tags = var.tags
}
