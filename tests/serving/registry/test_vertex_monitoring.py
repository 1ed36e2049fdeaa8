"""serving/registry/vertex_monitoring.py: the endpoint's Vertex AI Model Monitoring job.

The real google-cloud-aiplatform SDK (REST, anonymous credentials) talks to the Vertex
AI emulator's services (tests/pipelines/emulator/vertex_api.py), which check a job as
Vertex does and record each request; a directory plays Cloud Storage for the schema
and training instances the plan writes. Tested: a deployment gets a job with the plan's
fields, thresholds, training data, sampling, schedule and alert emails; a later
deployment updates it to watch the new deployed model, or replaces it when instances
are read with another schema; a plan with nothing to watch sends no job; and requests
Vertex refuses are refused.
"""

import sys

import pytest
from google.api_core import exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import aiplatform
from google.cloud import aiplatform_v1 as v1

from serving.registry.vertex_monitoring import SCHEMA_LABEL, configure_endpoint_monitoring
from tests.pipelines.emulator.vertex_api import ECHO_CONTAINER, running_vertex_api
from tests.trainer.vertex_monitoring.model_dirs import classifier_dir, forecaster_dir
from trainer.vertex_monitoring.plan import vertex_monitoring_plan

PROJECT, LOCATION = "my-project", "us-central1"
PARENT = f"projects/{PROJECT}/locations/{LOCATION}"
RESOURCES = {"machine_spec": {"machine_type": "n1-standard-2"}, "min_replica_count": 1}
SETTINGS = {
    "enabled": True,
    "sample_rate": 0.5,
    "interval_hours": 6,
    "alert_emails": ["ml-team@example.com"],
    "drift_threshold": 0.3,
    "drift_thresholds": {"value": 0.2},
}


@pytest.fixture
def api(tmp_path, saved_aiplatform_config):
    with running_vertex_api(PROJECT, LOCATION, tmp_path, gcs_root=tmp_path / "gcs") as api:
        aiplatform.init(
            project=PROJECT,
            location=LOCATION,
            api_endpoint=api.rest_url,
            api_transport="rest",
            credentials=AnonymousCredentials(),
        )
        yield api


def deployed_version(api, endpoint: str = "", split: dict | None = None) -> tuple[str, str, str]:
    """(endpoint, model@version, deployed model id) of a new echo model version deployed."""
    models = api.client(v1.ModelServiceClient)
    model = {
        "display_name": "forecaster",
        "artifact_uri": "gs://models/forecaster",
        "container_spec": {"image_uri": "serving:1", "command": [sys.executable, ECHO_CONTAINER]},
    }
    existing = models.list_models(parent=PARENT)
    parent = {"parent_model": existing.models[0].name} if existing.models else {}
    uploaded = models.upload_model(request={"parent": PARENT, "model": model, **parent}).result()
    endpoints = api.client(v1.EndpointServiceClient)
    if not endpoint:
        created = endpoints.create_endpoint(parent=PARENT, endpoint={"display_name": "forecaster"})
        endpoint = created.result().name
    version = f"{uploaded.model}@{uploaded.model_version_id}"
    deployed = endpoints.deploy_model(
        endpoint=endpoint,
        deployed_model={"model": version, "dedicated_resources": RESOURCES},
        traffic_split=split or {"0": 100},
    )
    return endpoint, version, deployed.result(timeout=120).deployed_model.id


def plan_of(tmp_path, model_dir, run: str = "run-1", **overrides):
    out = f"root/{run}/model-monitoring/monitoring"
    settings = {**SETTINGS, **overrides}
    return vertex_monitoring_plan(model_dir, tmp_path / "gcs" / out, f"gs://{out}", **settings)


def test_a_deployment_gets_a_job_with_the_plans_fields_thresholds_and_alerts(api, tmp_path):
    endpoint, version, deployed_id = deployed_version(api)
    plan = plan_of(tmp_path, forecaster_dir(tmp_path / "model", window=3))
    name = configure_endpoint_monitoring(endpoint, version, plan, PROJECT, LOCATION)
    [create] = api.state.calls("CreateModelDeploymentMonitoringJob")
    job = create.model_deployment_monitoring_job
    assert create.parent == PARENT and name.startswith(f"{PARENT}/modelDeploymentMonitoringJobs/")
    assert (job.endpoint, job.display_name) == (endpoint, "forecaster-model-monitoring")
    [objective] = job.model_deployment_monitoring_objective_configs
    assert objective.deployed_model_id == deployed_id
    config = objective.objective_config
    lags = {"value_lag_3": 0.2, "value_lag_2": 0.2, "value_lag_1": 0.2}
    skew = config.training_prediction_skew_detection_config.skew_thresholds
    drift = config.prediction_drift_detection_config.drift_thresholds
    assert {k: round(t.value, 6) for k, t in skew.items()} == lags
    assert {k: round(t.value, 6) for k, t in drift.items()} == lags
    dataset = config.training_dataset
    assert list(dataset.gcs_source.uris) == [plan.training_data_uri]
    assert dataset.data_format == "csv"
    assert job.analysis_instance_schema_uri == plan.analysis_schema_uri
    assert job.logging_sampling_strategy.random_sample_config.sample_rate == 0.5
    assert job.model_deployment_monitoring_schedule_config.monitor_interval.total_seconds() == (
        6 * 3600
    )
    alerts = job.model_monitoring_alert_config
    assert list(alerts.email_alert_config.user_emails) == ["ml-team@example.com"]
    assert alerts.enable_logging
    assert job.labels == {SCHEMA_LABEL: plan.schema_digest}
    stored = aiplatform.ModelDeploymentMonitoringJob(name)
    assert stored.state == v1.JobState.JOB_STATE_RUNNING
    assert stored.gca_resource.bigquery_tables[0].bigquery_table_path.endswith(".serving_predict")


def test_a_new_version_updates_the_job_and_another_schema_replaces_it(api, tmp_path):
    endpoint, version, _ = deployed_version(api)
    first = plan_of(tmp_path, forecaster_dir(tmp_path / "m1", window=3))
    name = configure_endpoint_monitoring(endpoint, version, first, PROJECT, LOCATION)
    _, second_version, second_id = deployed_version(api, endpoint)
    again = plan_of(tmp_path, forecaster_dir(tmp_path / "m2", window=3), "run-2")
    assert configure_endpoint_monitoring(endpoint, second_version, again, PROJECT, LOCATION) == name
    [update] = api.state.calls("UpdateModelDeploymentMonitoringJob")
    assert "model_deployment_monitoring_objective_configs" in update.update_mask.paths
    updated = update.model_deployment_monitoring_job
    [objective] = updated.model_deployment_monitoring_objective_configs
    assert objective.deployed_model_id == second_id  # the model just deployed
    assert objective.objective_config.training_dataset.gcs_source.uris == [again.training_data_uri]
    assert len(api.state.calls("CreateModelDeploymentMonitoringJob")) == 1

    _, third_version, third_id = deployed_version(api, endpoint)
    longer = plan_of(tmp_path, forecaster_dir(tmp_path / "m3", window=5), "run-3")
    replaced = configure_endpoint_monitoring(endpoint, third_version, longer, PROJECT, LOCATION)
    assert replaced != name
    assert [r.name for r in api.state.calls("DeleteModelDeploymentMonitoringJob")] == [name]
    [job] = aiplatform.ModelDeploymentMonitoringJob.list()
    assert job.resource_name == replaced
    assert job.gca_resource.analysis_instance_schema_uri == longer.analysis_schema_uri
    [objective] = job.gca_resource.model_deployment_monitoring_objective_configs
    assert objective.deployed_model_id == third_id


def test_a_plan_with_nothing_to_watch_configures_no_job(api, tmp_path):
    endpoint, version, _ = deployed_version(api)
    plan = plan_of(tmp_path, classifier_dir(tmp_path / "model", "vision"), drift_thresholds={})
    assert configure_endpoint_monitoring(endpoint, version, plan, PROJECT, LOCATION) == ""
    assert [r.method for r in api.state.requests if "Monitoring" in r.method] == [
        "ListModelDeploymentMonitoringJobs"
    ]


def job_request(endpoint_name: str, deployed_id: str, **changes) -> dict:
    job = {
        "display_name": "m",
        "endpoint": endpoint_name,
        "model_deployment_monitoring_objective_configs": [
            {
                "deployed_model_id": deployed_id,
                "objective_config": {
                    "prediction_drift_detection_config": {"drift_thresholds": {"x": {"value": 0.3}}}
                },
            }
        ],
        "logging_sampling_strategy": {"random_sample_config": {"sample_rate": 0.8}},
        "model_deployment_monitoring_schedule_config": {"monitor_interval": {"seconds": 3600}},
        "model_monitoring_alert_config": {"email_alert_config": {"user_emails": ["a@b.com"]}},
    }
    job.update(changes)
    return job


@pytest.mark.parametrize("transport", ["grpc", "rest"])
def test_requests_vertex_refuses_are_refused(api, transport):
    endpoint, _, deployed_id = deployed_version(api)
    jobs = api.client(v1.JobServiceClient, transport)

    def create(**changes):
        job = job_request(endpoint, deployed_id, **changes)
        return jobs.create_model_deployment_monitoring_job(
            parent=PARENT, model_deployment_monitoring_job=job
        )

    drift = {"prediction_drift_detection_config": {"drift_thresholds": {"x": {"value": 1.5}}}}
    skew = {"training_prediction_skew_detection_config": {"skew_thresholds": {"x": {"value": 1}}}}
    refused = [
        ({"model_deployment_monitoring_objective_configs": [
            {"deployed_model_id": deployed_id, "objective_config": drift}]}, "from 0 to 1"),
        ({"model_deployment_monitoring_objective_configs": [
            {"deployed_model_id": deployed_id, "objective_config": skew}]}, "training_dataset"),
        ({"model_deployment_monitoring_objective_configs": [
            {"deployed_model_id": "999", "objective_config": drift}]}, "not deployed"),
        ({"logging_sampling_strategy": {"random_sample_config": {"sample_rate": 0}}}, r"\(0, 1\]"),
        ({"model_deployment_monitoring_schedule_config": {"monitor_interval": {"seconds": 60}}},
         "minimum of 1 hour"),
        ({"model_monitoring_alert_config": {"email_alert_config": {"user_emails": ["x"]}}},
         "not an email"),
        ({"analysis_instance_schema_uri": "gs://gone/schema.yaml"}, "no such object"),
    ]  # fmt: skip
    for changes, message in refused:
        with pytest.raises(exceptions.BadRequest, match=message):
            create(**changes)
    with pytest.raises(exceptions.NotFound, match="Endpoint"):
        create(endpoint=f"{PARENT}/endpoints/424242")
    create()
    # FAILED_PRECONDITION: FailedPrecondition over gRPC, its HTTP 400 (BadRequest) over REST
    with pytest.raises(exceptions.BadRequest, match="already has"):
        create()
