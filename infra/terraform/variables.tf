variable "project_id" {
  description = "Google Cloud project that runs the pipelines (GOOGLE_CLOUD_PROJECT)."
  type        = string
}

variable "region" {
  description = "Region of Vertex AI, the buckets and the repositories (VERTEX_REGION)."
  type        = string
  default     = "us-central1"
}

variable "name_prefix" {
  description = "Names the Docker repository (as is), the KFP repository and the derived bucket names."
  type        = string
  default     = "mlops"
}

variable "pipeline_root_bucket" {
  description = "Bucket for pipeline run artifacts (PIPELINE_ROOT). Null: PROJECT-PREFIX-pipeline-root."
  type        = string
  default     = null
}

variable "staging_bucket" {
  description = "Bucket the Vertex AI SDK stages jobs in (VERTEX_STAGING_BUCKET). Null: PROJECT-PREFIX-staging."
  type        = string
  default     = null
}

variable "service_account_id" {
  description = "Account id of the service account pipelines and their jobs run as."
  type        = string
  default     = "vertex-pipelines"
}

variable "endpoint_service_account_id" {
  description = "Account id of the service account deployed models (their serving containers) run as."
  type        = string
  default     = "vertex-endpoints"
}

variable "image_name" {
  description = "Image name in the Docker repository; matches _IMAGE in infra/cloudbuild.yaml."
  type        = string
  default     = "pipeline"
}

variable "submitter_members" {
  description = "Principals who submit and schedule pipelines, e.g. [\"user:ana@example.com\", \"group:ml@example.com\"]."
  type        = list(string)
  default     = []
}

variable "builder_members" {
  description = "Principals that push the pipeline image, e.g. the Cloud Build service account (\"serviceAccount:...\")."
  type        = list(string)
  default     = []
}

variable "source_data_buckets" {
  description = "Existing buckets the pipelines read training data from (ingest's gs:// source_uri)."
  type        = list(string)
  default     = []
}

variable "source_bigquery_datasets" {
  description = "BigQuery datasets the pipelines query, as \"project.dataset\" (time-series ingest)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for d in var.source_bigquery_datasets : length(split(".", d)) == 2])
    error_message = "Each source_bigquery_datasets entry must be \"project.dataset\", e.g. \"my-project.weather\"."
  }
}

variable "noncurrent_version_retention_days" {
  description = "Days an overwritten or deleted object in the pipeline root stays recoverable."
  type        = number
  default     = 30

  validation {
    # The provider drops a 0 here, which would silently disable the rule.
    condition     = var.noncurrent_version_retention_days >= 1
    error_message = "noncurrent_version_retention_days must be at least 1."
  }
}

variable "soft_delete_retention_days" {
  description = "Days a deleted object of the pipeline root (any version) can still be restored."
  type        = number
  default     = 30

  validation {
    # Cloud Storage takes 7 to 90 days (or 0, off: not offered here).
    condition     = var.soft_delete_retention_days >= 7 && var.soft_delete_retention_days <= 90
    error_message = "soft_delete_retention_days must be from 7 to 90."
  }
}

variable "pipeline_root_retention_days" {
  description = "Delete run artifacts older than this many days; null keeps them (models registered on Vertex may point into them)."
  type        = number
  default     = null

  validation {
    condition     = var.pipeline_root_retention_days == null ? true : var.pipeline_root_retention_days >= 1
    error_message = "pipeline_root_retention_days must be null (keep) or at least 1."
  }
}

variable "staging_retention_days" {
  description = "Days staged job packages stay in the staging bucket."
  type        = number
  default     = 30

  validation {
    condition     = var.staging_retention_days >= 1
    error_message = "staging_retention_days must be at least 1."
  }
}
