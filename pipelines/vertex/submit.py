"""Submit a compiled pipeline to Vertex AI Pipelines, and follow the run to its end."""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Callable

from google.cloud import aiplatform
from google.cloud.aiplatform_v1.types import PipelineState

from pipelines.vertex.api_errors import VertexApiError, explained
from pipelines.vertex.client import console_url
from pipelines.vertex.job import pipeline_job
from pipelines.vertex.settings import VertexSettings
from pipelines.vertex.template import PipelineTemplate

_SUCCEEDED = {PipelineState.PIPELINE_STATE_SUCCEEDED}
_FAILED = {
    PipelineState.PIPELINE_STATE_FAILED,
    PipelineState.PIPELINE_STATE_CANCELLED,
}


def build_job(
    template: PipelineTemplate, settings: VertexSettings, parameter_values: dict
) -> aiplatform.PipelineJob:
    """The PipelineJob of one run of `template`, named after it, the time and a random
    suffix (two submissions in one second must not clash) (offline)."""
    run_id = f"{template.name}-{dt.datetime.now(dt.UTC):%Y%m%d%H%M%S}-{secrets.token_hex(2)}"
    return pipeline_job(template, settings, parameter_values, run_id=run_id)


def request_body(job: aiplatform.PipelineJob, settings: VertexSettings) -> dict:
    """The PipelineJob resource `submit` sends (create request body)."""
    body = job.to_dict()
    if settings.service_account:
        body["serviceAccount"] = settings.service_account
    if settings.network:
        body["network"] = settings.network
    return body


def submit(job: aiplatform.PipelineJob, settings: VertexSettings) -> str:
    """Create the run; returns its resource name."""
    with explained("submit pipeline run", f"{job.job_id} in {_parent(settings)}"):
        job.submit(service_account=settings.service_account, network=settings.network)
    return job.resource_name


def follow(
    job: aiplatform.PipelineJob,
    settings: VertexSettings,
    poll_seconds: float = 30,
    say: Callable[[str], None] = print,
) -> None:
    """Print each state change until the run ends; a failed run raises VertexApiError."""
    last = None
    while True:
        with explained("read the state of", job.resource_name):
            state = job.state
        if state != last:
            say(f"{dt.datetime.now():%H:%M:%S} {job.resource_name}: {state.name}")
            last = state
        if state in _SUCCEEDED:
            return
        if state in _FAILED:
            error = job.gca_resource.error.message or "no error message"
            raise VertexApiError(
                f"Pipeline run {job.resource_name} ended {state.name}: {error}\n"
                f"Logs and the failed step: {console_url(job.resource_name, settings)}"
            )
        time.sleep(poll_seconds)


def _parent(settings: VertexSettings) -> str:
    return f"projects/{settings.project}/locations/{settings.region}"
