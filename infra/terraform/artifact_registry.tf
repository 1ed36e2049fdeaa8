# The pipeline image (infra/Dockerfile, pushed by infra/cloudbuild.yaml): PIPELINE_IMAGE.
resource "google_artifact_registry_repository" "docker" {
  project       = var.project_id
  location      = var.region
  repository_id = var.name_prefix
  format        = "DOCKER"
  description   = "Pipeline image: this repository on TensorFlow, run by every Vertex AI pipeline task."

  depends_on = [google_project_service.enabled]
}

# Compiled pipeline templates (KFP_REPOSITORY), versioned and tagged, that runs and schedules start from.
resource "google_artifact_registry_repository" "kfp" {
  project       = var.project_id
  location      = var.region
  repository_id = "${var.name_prefix}-pipelines"
  format        = "KFP"
  description   = "Compiled Kubeflow pipeline templates."

  depends_on = [google_project_service.enabled]
}
