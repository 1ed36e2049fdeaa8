"""Put a pipeline into production: its template in Artifact Registry, run on a schedule.

The template is uploaded to the KFP repository (KFP_REPOSITORY), tagged
`latest`, and a Vertex AI schedule (SCHEDULE_CRON) runs that exact version.
A schedule cannot be pointed at a new template in place, so deploying again
creates the new schedule first and only then deletes the old one: there is
never a moment without one, and a failed deploy leaves the old one running.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from google.cloud import aiplatform
from kfp.registry import RegistryClient

from pipelines.vertex.api_errors import VertexApiError, explained
from pipelines.vertex.job import pipeline_job
from pipelines.vertex.settings import VertexSettings
from pipelines.vertex.template import PipelineTemplate

TEMPLATE_TAG = "latest"


@dataclass(frozen=True)
class Deployed:
    template_url: str
    schedule: str
    replaced: list[str]


def upload_template(template: PipelineTemplate, repository: str) -> str:
    """Upload the compiled template; returns the URL of the uploaded version."""
    client = RegistryClient(host=repository)
    with explained("upload the pipeline template to", repository):
        package, version = client.upload_pipeline(file_name=str(template.path), tags=[TEMPLATE_TAG])
    return f"{repository}/{package}/{version}"


def schedule_name(template: PipelineTemplate) -> str:
    return f"{template.path.stem}-schedule"


def deploy_schedule(
    template: PipelineTemplate,
    settings: VertexSettings,
    parameter_values: dict,
    say: Callable[[str], None] = print,
) -> Deployed:
    """Upload `template` and (re)create its schedule; returns what was done."""
    url = upload_template(template, settings.kfp_repository)
    say(f"Uploaded {template.path} -> {url}")
    name = schedule_name(template)
    parent = f"projects/{settings.project}/locations/{settings.region}"
    with explained("read the template and schedules of", parent):
        job = pipeline_job(template, settings, parameter_values, template_path=url)
        old = aiplatform.PipelineJobSchedule.list(filter=f'display_name="{name}"')
    with explained("create schedule", f"{name} in {parent}"):
        schedule = job.create_schedule(
            cron=settings.schedule_cron,
            display_name=name,
            max_concurrent_run_count=1,
            service_account=settings.service_account,
            network=settings.network,
        )
    say(f"Schedule {schedule.resource_name} ({name}): {settings.schedule_cron}")
    left: list[str] = []
    for previous in old:
        try:
            with explained("delete the previous schedule", previous.resource_name):
                previous.delete()
            say(f"Deleted the previous schedule {previous.resource_name}")
        except VertexApiError as error:
            left.append(f"{previous.resource_name}: {error}")
    if left:
        raise VertexApiError(
            f"The new schedule {schedule.resource_name} is live, but the previous one still "
            "runs too: delete it in the console (Vertex AI > Pipelines > Schedules).\n"
            + "\n".join(left)
        )
    return Deployed(url, schedule.resource_name, [s.resource_name for s in old])
