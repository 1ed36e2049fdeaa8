locals {
  docker_repository  = "${google_artifact_registry_repository.docker.location}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.docker.repository_id}"
  kfp_repository     = "https://${google_artifact_registry_repository.kfp.location}-kfp.pkg.dev/${var.project_id}/${google_artifact_registry_repository.kfp.repository_id}"
  pipeline_image     = "${local.docker_repository}/${var.image_name}:latest"
  pipeline_root_uri  = "gs://${google_storage_bucket.pipeline_root.name}"
  staging_bucket_uri = "gs://${google_storage_bucket.staging.name}"
}

output "pipeline_root" {
  description = "PIPELINE_ROOT: where pipeline runs write their artifacts."
  value       = local.pipeline_root_uri
}

output "staging_bucket" {
  description = "VERTEX_STAGING_BUCKET: the Vertex AI SDK's staging bucket."
  value       = local.staging_bucket_uri
}

output "docker_repository" {
  description = "Docker repository for the pipeline image (REGION-docker.pkg.dev/PROJECT/REPO)."
  value       = local.docker_repository
}

output "kfp_repository" {
  description = "KFP_REPOSITORY: Artifact Registry host for compiled pipeline templates."
  value       = local.kfp_repository
}

output "pipeline_image" {
  description = "PIPELINE_IMAGE: the image infra/cloudbuild.yaml pushes (latest tag)."
  value       = local.pipeline_image
}

output "service_account_email" {
  description = "VERTEX_SERVICE_ACCOUNT: the account pipelines and their jobs run as."
  value       = google_service_account.pipelines.email
}

output "endpoint_service_account_email" {
  description = "VERTEX_ENDPOINT_SERVICE_ACCOUNT: the account deployed models run as."
  value       = google_service_account.endpoints.email
}

# `terraform output -raw env >> .env` gives the settings `make compile`, submit
# and deploy read.
output "env" {
  description = "Environment lines for .env, named as the project's CLI reads them."
  value       = <<-EOT
    GOOGLE_CLOUD_PROJECT=${var.project_id}
    VERTEX_REGION=${var.region}
    PIPELINE_ROOT=${local.pipeline_root_uri}
    VERTEX_STAGING_BUCKET=${local.staging_bucket_uri}
    VERTEX_SERVICE_ACCOUNT=${google_service_account.pipelines.email}
    VERTEX_ENDPOINT_SERVICE_ACCOUNT=${google_service_account.endpoints.email}
    PIPELINE_IMAGE=${local.pipeline_image}
    KFP_REPOSITORY=${local.kfp_repository}
  EOT
}
