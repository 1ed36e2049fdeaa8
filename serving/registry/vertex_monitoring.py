"""Vertex AI Model Monitoring on an endpoint: its ModelDeploymentMonitoringJob, created or updated.

An endpoint has one monitoring job. After a deployment the job watches the model
just deployed (its deployed model id on the endpoint), with the plan's fields and
thresholds for training-serving skew (against the plan's training instances) and
prediction drift, the sampling rate, the interval between monitoring runs, and email
alerts (anomalies are also logged to Cloud Logging). A job whose analysis instance
schema reads instances alike (the same schema digest, kept in a label) is updated;
the schema of a job cannot be updated, so any other one is replaced. Calls go through
the google-cloud-aiplatform SDK (tested against the Vertex AI emulator).
"""

from __future__ import annotations

import logging
from typing import Protocol

from google.cloud import aiplatform
from google.cloud.aiplatform import model_monitoring

log = logging.getLogger(__name__)

SCHEMA_LABEL = "analysis-schema"
_DISPLAY_SUFFIX = "-model-monitoring"


class MonitoringPlan(Protocol):
    """What a monitoring job is given (trainer.vertex_monitoring.plan makes one)."""

    reason: str  # why there is no job to configure; "" when there is
    thresholds: dict[str, float]  # instance field -> threshold, for skew and drift
    analysis_schema_uri: str
    schema_digest: str
    training_data_uri: str  # "": drift only
    training_data_format: str
    sample_rate: float
    interval_hours: int
    alert_emails: list[str]


def configure_endpoint_monitoring(
    endpoint_name: str, model_version: str, plan: MonitoringPlan, project: str, location: str
) -> str:
    """Monitor the deployment of `model_version` (projects/.../models/<id>@<version>) on the
    endpoint; returns the job's resource name, or "" when the plan has none (its reason is
    logged; a job the endpoint already has is left as it is)."""
    existing = _endpoint_job(endpoint_name, project, location)
    if plan.reason:
        log.info("No Vertex AI Model Monitoring configured for %s: %s", model_version, plan.reason)
        if existing is not None:
            log.warning(
                "%s keeps its monitoring job %s unchanged: pause or delete it if it watches a "
                "model no longer deployed there.",
                endpoint_name,
                existing.resource_name,
            )
        return ""
    endpoint = aiplatform.Endpoint(endpoint_name, project=project, location=location)
    deployed = {model_version: _deployed_model_id(endpoint, model_version)}
    objectives = {deployed[model_version]: _objective(plan)}
    settings = {
        "logging_sampling_strategy": model_monitoring.RandomSampleConfig(plan.sample_rate),
        "schedule_config": model_monitoring.ScheduleConfig(plan.interval_hours),
        "alert_config": model_monitoring.EmailAlertConfig(
            user_emails=list(plan.alert_emails), enable_logging=True
        ),
        "labels": {SCHEMA_LABEL: plan.schema_digest},
    }
    same_schema = existing is not None and (
        existing.gca_resource.labels.get(SCHEMA_LABEL) == plan.schema_digest
    )
    if same_schema:
        existing.update(objective_configs=objectives, **settings)
        log.info("Updated %s to watch %s", existing.resource_name, _described(plan, deployed))
        return existing.resource_name
    if existing is not None:
        log.info("Replacing %s: its instances are read with another schema", existing.resource_name)
        existing.api_client.delete_model_deployment_monitoring_job(
            name=existing.resource_name
        ).result()
    job = aiplatform.ModelDeploymentMonitoringJob.create(
        endpoint=endpoint,
        objective_configs=objectives,
        display_name=f"{endpoint.display_name[: 128 - len(_DISPLAY_SUFFIX)]}{_DISPLAY_SUFFIX}",
        analysis_instance_schema_uri=plan.analysis_schema_uri,
        project=project,
        location=location,
        **settings,
    )
    log.info("Created %s to watch %s", job.resource_name, _described(plan, deployed))
    return job.resource_name


def _objective(plan: MonitoringPlan) -> model_monitoring.ObjectiveConfig:
    skew = None
    if plan.training_data_uri:
        skew = model_monitoring.SkewDetectionConfig(
            data_source=plan.training_data_uri,
            skew_thresholds=dict(plan.thresholds),
            data_format=plan.training_data_format,
        )
    drift = model_monitoring.DriftDetectionConfig(drift_thresholds=dict(plan.thresholds))
    return model_monitoring.ObjectiveConfig(
        skew_detection_config=skew, drift_detection_config=drift
    )


def _deployed_model_id(endpoint: aiplatform.Endpoint, model_version: str) -> str:
    """The id of the newest deployment of `model_version` on the endpoint."""
    model, _, version = model_version.partition("@")
    found = [
        m.id
        for m in endpoint.list_models()
        if m.model == model and (not version or m.model_version_id == version)
    ]
    if not found:
        raise RuntimeError(
            f"{model_version} is not deployed on {endpoint.resource_name}, so there is nothing "
            "to monitor: the deploy step before this one did not deploy it."
        )
    return found[-1]


def _endpoint_job(
    endpoint_name: str, project: str, location: str
) -> aiplatform.ModelDeploymentMonitoringJob | None:
    jobs = [
        job
        for job in aiplatform.ModelDeploymentMonitoringJob.list(project=project, location=location)
        if job.gca_resource.endpoint == endpoint_name
    ]
    if len(jobs) > 1:
        log.warning("%s has %d monitoring jobs; the first is configured", endpoint_name, len(jobs))
    return jobs[0] if jobs else None


def _described(plan: MonitoringPlan, deployed: dict[str, str]) -> str:
    [(version, deployed_id)] = deployed.items()
    skew = "skew and drift" if plan.training_data_uri else "drift"
    return (
        f"{version} (deployed as {deployed_id}): {skew} of {len(plan.thresholds)} fields, "
        f"{plan.sample_rate:g} of requests, every {plan.interval_hours} h, alerts to "
        f"{', '.join(plan.alert_emails) or 'Cloud Logging only'}"
    )
