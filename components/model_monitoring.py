"""Vertex AI only: Model Monitoring of the endpoint a blessed model was just deployed to."""

from google_cloud_pipeline_components.types.artifact_types import (
    UnmanagedContainerModel,
    VertexEndpoint,
    VertexModel,
)
from kfp import dsl
from kfp.dsl import Artifact, Input, Output

from components.container_images import PIPELINE_IMAGE


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def configure_model_monitoring(
    endpoint: Input[VertexEndpoint],
    registered_model: Input[VertexModel],
    model: Input[UnmanagedContainerModel],
    monitoring: Output[Artifact],
    model_monitoring: bool,
    monitoring_sample_rate: float,
    monitoring_interval_hours: int,
    monitoring_alert_emails: list,
    drift_threshold: float,
    drift_thresholds: dict,
    project: str = "{{$.pipeline_google_cloud_project_id}}",
    location: str = "{{$.pipeline_google_cloud_location}}",
):
    """Creates or updates the endpoint's ModelDeploymentMonitoringJob for the deployed model.

    In: the endpoint and the uploaded version (the deployed model is found by it), the
    trained model (its data baseline and metadata: what Vertex can watch of its
    instances, per case study in trainer/<case>/vertex_monitoring.py), the settings, and
    the thresholds of data validation (per feature over the default; for skew and drift).
    Out: monitoring, a folder holding the analysis instance schema and the training
    instances Vertex reads for skew (both small), with metadata: the job's resource name
    ("" when none was configured), the features watched and their thresholds, and what
    Vertex cannot watch, with why.
    """
    from serving.contracts.logs import setup_logging
    from serving.registry.vertex_monitoring import configure_endpoint_monitoring
    from trainer.vertex_monitoring.plan import vertex_monitoring_plan

    setup_logging()
    plan = vertex_monitoring_plan(
        model.path,
        monitoring.path,
        monitoring.uri,
        enabled=model_monitoring,
        sample_rate=monitoring_sample_rate,
        interval_hours=monitoring_interval_hours,
        alert_emails=monitoring_alert_emails,
        drift_threshold=drift_threshold,
        drift_thresholds=drift_thresholds,
    )
    job = configure_endpoint_monitoring(
        endpoint.metadata["resourceName"], registered_model.metadata["resourceName"], plan,
        project, location,
    )  # fmt: skip
    monitoring.metadata.update({**plan.summary(), "job": job})
