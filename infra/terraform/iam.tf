# The identity every pipeline task and custom training job runs as
# (VERTEX_SERVICE_ACCOUNT). It gets only what a run needs, each grant on the
# narrowest resource that works: no basic roles, no project-wide storage.
# Deployed models run as their own account, `endpoints` below.
resource "google_service_account" "pipelines" {
  project      = var.project_id
  account_id   = var.service_account_id
  display_name = "Vertex AI pipelines"
  description  = "Runs the Vertex AI pipelines of vertex-mlops-reference and the jobs they launch."

  depends_on = [google_project_service.enabled]
}

# --- Project roles -----------------------------------------------------------

# Vertex AI: create custom (training) jobs, upload models to the Model
# Registry, create endpoints and deploy to them, configure Model Monitoring on
# them (model deployment monitoring jobs), read and write ML Metadata.
# Vertex AI grants these only per project. Model Monitoring itself reads the
# schema and training instances the deploy step writes under PIPELINE_ROOT as
# the Vertex AI Service Agent, which may read this project's buckets.
resource "google_project_iam_member" "pipelines_aiplatform_user" {
  project = var.project_id
  role    = "roles/aiplatform.user"
  member  = google_service_account.pipelines.member
}

# Component and training logs go to Cloud Logging as this account.
resource "google_project_iam_member" "pipelines_log_writer" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = google_service_account.pipelines.member
}

# Time-series ingest runs its query as a BigQuery job in this project (the job,
# not the data: reading tables is granted per dataset below).
resource "google_project_iam_member" "pipelines_bigquery_job_user" {
  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = google_service_account.pipelines.member
}

# Custom job and endpoint containers report metrics to Cloud Monitoring.
resource "google_project_iam_member" "pipelines_metric_writer" {
  project = var.project_id
  role    = "roles/monitoring.metricWriter"
  member  = google_service_account.pipelines.member
}

# --- Resource roles ----------------------------------------------------------

# Read and write run artifacts under PIPELINE_ROOT (through /gcs/... on Vertex).
# objectUser, not objectAdmin: objects only, no access control (a run cannot
# grant anyone access to artifacts, nor change who may read them). It keeps
# delete, which runs need: Cloud Storage FUSE uploads a file again on each
# flush (an overwrite, which Cloud Storage permits only with delete),
# BackupAndRestore replaces and removes its checkpoints, and TensorBoard event
# files are rewritten as they grow. No predefined role or IAM condition can
# allow those and forbid deleting the models registered from older runs (the
# condition attributes of Cloud Storage are the object's name, and a model's
# files lie under its run like the rest), so the bucket keeps every
# overwritten or deleted object as a noncurrent version for
# noncurrent_version_retention_days, and every deleted version, noncurrent ones
# too, soft-deleted for soft_delete_retention_days, which this account cannot
# shorten (storage.tf): restore it from there.
resource "google_storage_bucket_iam_member" "pipelines_pipeline_root" {
  bucket = google_storage_bucket.pipeline_root.name
  role   = "roles/storage.objectUser"
  member = google_service_account.pipelines.member
}

# Read and write the packages and uploads the Vertex AI SDK stages for jobs
# (objects only, as above; staged packages are temporary).
resource "google_storage_bucket_iam_member" "pipelines_staging" {
  bucket = google_storage_bucket.staging.name
  role   = "roles/storage.objectUser"
  member = google_service_account.pipelines.member
}

# Ingest lists and reads the training data (source_uri); nothing more.
resource "google_storage_bucket_iam_member" "pipelines_source_data" {
  for_each = toset(var.source_data_buckets)

  bucket = each.value
  role   = "roles/storage.objectViewer"
  member = google_service_account.pipelines.member
}

# Ingest reads the tables of the BigQuery datasets it queries ("project.dataset").
resource "google_bigquery_dataset_iam_member" "pipelines_source_datasets" {
  for_each = toset(var.source_bigquery_datasets)

  project    = split(".", each.value)[0]
  dataset_id = split(".", each.value)[1]
  role       = "roles/bigquery.dataViewer"
  member     = google_service_account.pipelines.member
}

# Pull the pipeline image.
resource "google_artifact_registry_repository_iam_member" "pipelines_image_reader" {
  project    = var.project_id
  location   = google_artifact_registry_repository.docker.location
  repository = google_artifact_registry_repository.docker.name
  role       = "roles/artifactregistry.reader"
  member     = google_service_account.pipelines.member
}

# actAs on itself: a pipeline task launches custom jobs (training, model
# upload, deployment) that run as this same account, which Vertex AI allows
# only to a caller that may act as it.
resource "google_service_account_iam_member" "pipelines_act_as_self" {
  service_account_id = google_service_account.pipelines.name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.pipelines.member
}

# --- Deployed models -----------------------------------------------------------

# The identity the serving containers of deployed models run as
# (VERTEX_ENDPOINT_SERVICE_ACCOUNT, ModelDeployOp's service_account): without
# one, Vertex AI runs them as a Google-managed account. A model server only
# reads its model and writes logs and metrics: it may not train, deploy, read
# the training data or write to any bucket.
resource "google_service_account" "endpoints" {
  project      = var.project_id
  account_id   = var.endpoint_service_account_id
  display_name = "Vertex AI endpoints"
  description  = "Runs the serving containers of the models vertex-mlops-reference deploys."

  depends_on = [google_project_service.enabled]
}

# The server's request and access logs go to Cloud Logging as this account...
resource "google_project_iam_member" "endpoints_log_writer" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = google_service_account.endpoints.member
}

# ...and its metrics to Cloud Monitoring.
resource "google_project_iam_member" "endpoints_metric_writer" {
  project = var.project_id
  role    = "roles/monitoring.metricWriter"
  member  = google_service_account.endpoints.member
}

# Read the registered model's files (its artifact URI lies under PIPELINE_ROOT).
resource "google_storage_bucket_iam_member" "endpoints_model_reader" {
  bucket = google_storage_bucket.pipeline_root.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.endpoints.member
}

# The deploy step, which runs as the pipelines account, deploys models as the
# endpoints account: Vertex AI allows that only to a caller that may act as it.
resource "google_service_account_iam_member" "pipelines_act_as_endpoints" {
  service_account_id = google_service_account.endpoints.name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.pipelines.member
}

# --- People and CI -----------------------------------------------------------

# Submitters create pipeline runs and schedules...
resource "google_project_iam_member" "submitters_aiplatform_user" {
  for_each = toset(var.submitter_members)

  project = var.project_id
  role    = "roles/aiplatform.user"
  member  = each.value
}

# ...that run as the pipelines account, which requires actAs on it...
resource "google_service_account_iam_member" "submitters_act_as_pipelines" {
  for_each = toset(var.submitter_members)

  service_account_id = google_service_account.pipelines.name
  role               = "roles/iam.serviceAccountUser"
  member             = each.value
}

# ...and upload the compiled templates they start from to the KFP repository.
resource "google_artifact_registry_repository_iam_member" "submitters_template_writer" {
  for_each = toset(var.submitter_members)

  project    = var.project_id
  location   = google_artifact_registry_repository.kfp.location
  repository = google_artifact_registry_repository.kfp.name
  role       = "roles/artifactregistry.writer"
  member     = each.value
}

# Builders (e.g. the account Cloud Build runs as) push the pipeline image.
resource "google_artifact_registry_repository_iam_member" "builders_image_writer" {
  for_each = toset(var.builder_members)

  project    = var.project_id
  location   = google_artifact_registry_repository.docker.location
  repository = google_artifact_registry_repository.docker.name
  role       = "roles/artifactregistry.writer"
  member     = each.value
}
