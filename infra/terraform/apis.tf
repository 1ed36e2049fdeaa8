# The APIs a pipeline run touches. disable_on_destroy = false: destroying this
# configuration must not switch off an API other workloads in the project use.
locals {
  services = [
    "aiplatform.googleapis.com",           # Vertex AI: pipelines, custom jobs, models, endpoints
    "storage.googleapis.com",              # pipeline root and staging buckets
    "bigquery.googleapis.com",             # time-series ingest: query jobs
    "artifactregistry.googleapis.com",     # the pipeline image and pipeline templates
    "cloudbuild.googleapis.com",           # builds the image (infra/cloudbuild.yaml)
    "iam.googleapis.com",                  # the pipelines service account
    "cloudresourcemanager.googleapis.com", # project IAM bindings
    "compute.googleapis.com",              # machines of Vertex AI custom jobs
    "logging.googleapis.com",              # component and training logs
    "monitoring.googleapis.com",           # job and endpoint metrics
  ]
}

resource "google_project_service" "enabled" {
  for_each = toset(local.services)

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
