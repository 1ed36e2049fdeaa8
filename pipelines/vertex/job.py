"""The PipelineJob a run or a schedule starts from: template, settings and parameters."""

from __future__ import annotations

from google.cloud import aiplatform

from pipelines.vertex.settings import VertexSettings
from pipelines.vertex.template import PipelineTemplate


def pipeline_job(
    template: PipelineTemplate,
    settings: VertexSettings,
    parameter_values: dict,
    template_path: str | None = None,
    run_id: str | None = None,
) -> aiplatform.PipelineJob:
    """Built offline from `template_path` (default: the local file); nothing is sent.

    `run_id` names a single run (display name and job id); a schedule names its runs itself.
    Parameters that settings provide (`settings_parameters`) are added unless given.
    """
    parameter_values = {**settings_parameters(template, settings), **parameter_values}
    return aiplatform.PipelineJob(
        display_name=run_id or template.name,
        job_id=run_id,
        template_path=template_path or str(template.path),
        pipeline_root=settings.pipeline_root,
        parameter_values=parameter_values,
        enable_caching=settings.enable_caching,
        labels={**settings.labels, "pipeline": template.path.stem},
        project=settings.project,
        location=settings.region,
    )


def settings_parameters(template: PipelineTemplate, settings: VertexSettings) -> dict:
    """Pipeline parameters whose value is a setting: the deployed models' service account,
    and who gets the endpoint's monitoring alerts (VERTEX_NOTIFICATION_EMAILS)."""
    values: dict = {}
    if settings.endpoint_service_account and "endpoint_service_account" in template.parameters:
        values["endpoint_service_account"] = settings.endpoint_service_account
    if settings.notification_emails and "monitoring_alert_emails" in template.parameters:
        values["monitoring_alert_emails"] = list(settings.notification_emails)
    return values
