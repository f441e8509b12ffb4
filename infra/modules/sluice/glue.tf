# The Glue Data Catalog: one database and, per source of the pipeline
# config, one table over the partitions its pointers publish
# (current/source=<s>/dt=<d>[/hr=<h>]/symlink.txt lists the files of the
# committed attempt). SymlinkTextInputFormat makes Athena read the files a
# pointer lists, never a staged or replaced attempt; partition projection
# computes every partition's location from dt (and hr), so a new day is
# queryable the moment its pointer is, with no crawler and no MSCK REPAIR.

locals {
  # The same file the zips were built with (scripts/lambda-zips.sh copies
  # it beside them), so the tables and the functions read one config.
  pipeline_sources = yamldecode(var.pipeline_config_file == null ? "sources: []" : file(var.pipeline_config_file)).sources

  glue_database_name = coalesce(var.glue_database_name, replace(var.name_prefix, "-", "_"))

  # Glue (Hive) names of the pipeline's column types; decimal(p,s) keeps
  # its parameters, json is its text.
  glue_types = {
    string    = "string"
    int64     = "bigint"
    float64   = "double"
    bool      = "boolean"
    timestamp = "timestamp"
    date      = "date"
    json      = "string"
  }

  glue_declared = {
    for s in local.pipeline_sources : s.name => concat(
      [for c in try(s.output.columns, []) : {
        name = c.name
        path = try(c.path, c.name)
        type = startswith(c.type, "decimal") ? replace(c.type, " ", "") : local.glue_types[c.type]
      }],
      [for r in [try(s.output.record_column, "")] : { name = r, path = "", type = "string" } if r != ""],
    )
  }

  glue_tables = {
    for s in local.pipeline_sources : s.name => {
      table  = replace(s.name, "-", "_")
      format = try(s.output.format, "jsonl")
      hourly = s.partition.every == "hour"
      # The source's first window (2026-01-01, or 2026-01-01T13 for hours).
      first_day = try(substr(tostring(s.partition.start), 0, 10), var.glue_projection_start)
      # jsonl with no declared columns: each line is one string column,
      # for json_extract_scalar (no control character can occur raw in a
      # JSON line, so \u0001 never splits one).
      columns = concat(
        [for c in [{ name = "record", path = "", type = "string" }] : c if try(s.output.format, "jsonl") == "jsonl" && length(local.glue_declared[s.name]) == 0],
        local.glue_declared[s.name],
      )
      serde = (try(s.output.format, "jsonl") == "parquet" ? "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
        : length(local.glue_declared[s.name]) > 0 ? "org.openx.data.jsonserde.JsonSerDe"
      : "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe")
      serde_parameters = (try(s.output.format, "jsonl") == "parquet" ? tomap({ "serialization.format" = "1" })
        : length(local.glue_declared[s.name]) > 0 ? merge(
          # Keys match exactly, as the declared paths do; a column named
          # other than its key maps to it.
          { "case.insensitive" = "false" },
          { for c in local.glue_declared[s.name] : "mapping.${c.name}" => c.path if c.path != c.name },
        )
      : tomap({ "serialization.format" = "1", "field.delim" = "\u0001" }))
    }
  }

  # Where a source's pointers are: shared/sink's Layout.PointerKey without
  # the file name.
  glue_pointer_prefix = { for name, t in local.glue_tables : name => "s3://${local.bucket_name}/${var.data_key_prefix}current/source=${name}/" }
}

resource "aws_glue_catalog_database" "this" {
  name        = local.glue_database_name
  description = "Sluice: one table per source over its published partitions."

  tags = var.tags
}

resource "aws_glue_catalog_table" "source" {
  for_each = local.glue_tables

  database_name = aws_glue_catalog_database.this.name
  name          = each.value.table
  description   = "Sluice source ${each.key} (${each.value.format}): the files each partition's pointer lists."
  table_type    = "EXTERNAL_TABLE"

  parameters = merge(
    {
      EXTERNAL                      = "TRUE"
      classification                = each.value.format == "parquet" ? "parquet" : "json"
      "projection.enabled"          = "true"
      "projection.dt.type"          = "date"
      "projection.dt.format"        = "yyyy-MM-dd"
      "projection.dt.range"         = "${each.value.first_day},NOW"
      "projection.dt.interval"      = "1"
      "projection.dt.interval.unit" = "DAYS"
      "storage.location.template"   = "${local.glue_pointer_prefix[each.key]}dt=$${dt}/${each.value.hourly ? "hr=$${hr}/" : ""}"
    },
    each.value.hourly ? tomap({
      "projection.hr.type"   = "integer"
      "projection.hr.range"  = "0,23"
      "projection.hr.digits" = "2"
    }) : tomap({}),
  )

  partition_keys {
    name    = "dt"
    type    = "string"
    comment = "yyyy-MM-dd (UTC) of the window"
  }

  dynamic "partition_keys" {
    for_each = [for k in ["hr"] : k if each.value.hourly]

    content {
      name    = partition_keys.value
      type    = "string"
      comment = "HH (UTC) of the window"
    }
  }

  storage_descriptor {
    location      = local.glue_pointer_prefix[each.key]
    input_format  = "org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"

    ser_de_info {
      serialization_library = each.value.serde
      parameters            = each.value.serde_parameters
    }

    dynamic "columns" {
      for_each = each.value.columns

      content {
        name = columns.value.name
        type = columns.value.type
      }
    }
  }

  lifecycle {
    precondition {
      condition     = length(each.value.columns) > 0
      error_message = "Source ${each.key} has parquet output with no declared columns and no record_column, so its table would have no columns: declare output.columns (`sluicectl schema ${each.key}` prints them from landed data) or set output.record_column."
    }
    precondition {
      condition     = length(distinct([for t in local.glue_tables : t.table])) == length(keys(local.glue_tables))
      error_message = "Two sources have the same table name once '-' becomes '_' (table ${each.value.table}); rename one."
    }
  }
}
