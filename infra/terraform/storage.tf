locals {
  pipeline_root_bucket = coalesce(var.pipeline_root_bucket, "${var.project_id}-${var.name_prefix}-pipeline-root")
  staging_bucket       = coalesce(var.staging_bucket, "${var.project_id}-${var.name_prefix}-staging")
}

# Every run writes its artifacts (datasets, models, metrics) under PIPELINE_ROOT.
resource "google_storage_bucket" "pipeline_root" {
  project  = var.project_id
  name     = local.pipeline_root_bucket
  location = var.region

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  # Run artifacts are the lineage of every model: never deleted with the config.
  force_destroy = false

  # An overwritten or deleted artifact stays recoverable for a while.
  versioning {
    enabled = true
  }

  # ...even if a run deletes the noncurrent versions too (the pipelines account may delete
  # objects, iam.tf says why): soft-deleted objects can be restored for this long, and only
  # an account that may update the bucket, which no pipeline account can, may shorten it.
  soft_delete_policy {
    retention_duration_seconds = var.soft_delete_retention_days * 86400
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.noncurrent_version_retention_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  # Optional expiry of old runs' artifacts (off by default).
  dynamic "lifecycle_rule" {
    for_each = var.pipeline_root_retention_days == null ? [] : [var.pipeline_root_retention_days]
    content {
      condition {
        age = lifecycle_rule.value
      }
      action {
        type = "Delete"
      }
    }
  }

  lifecycle_rule {
    condition {
      age = 1
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }

  depends_on = [google_project_service.enabled]
}

# The Vertex AI SDK stages custom job packages and uploads here (aiplatform.init(staging_bucket=...)).
resource "google_storage_bucket" "staging" {
  project  = var.project_id
  name     = local.staging_bucket
  location = var.region

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  lifecycle_rule {
    condition {
      age = var.staging_retention_days
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.enabled]
}
