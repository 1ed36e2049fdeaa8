"""`python -m pipelines submit|deploy`: settings and parameters checked first, then the API."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pipelines.catalog import PIPELINES, check_pipeline_name
from pipelines.parameters import parameter_value_problems
from pipelines.vertex.client import console_url, init_vertex
from pipelines.vertex.run_values import check_run_values
from pipelines.vertex.schedule import deploy_schedule
from pipelines.vertex.settings import VertexSettings, load_settings
from pipelines.vertex.submit import build_job, follow, request_body, submit
from pipelines.vertex.template import PipelineTemplate


def submit_command(args: argparse.Namespace) -> None:
    template, settings, values = _checked(args, for_schedule=False)
    init_vertex(settings, offline=args.dry_run)
    job = build_job(template, settings, values)
    if args.dry_run:
        _print_request(job, settings, template)
        return
    name = submit(job, settings)
    print(f"Submitted {name}\n  {console_url(name, settings)}")
    if args.wait:
        follow(job, settings, poll_seconds=args.poll_seconds)


def deploy_command(args: argparse.Namespace) -> None:
    template, settings, values = _checked(args, for_schedule=True)
    init_vertex(settings)
    deployed = deploy_schedule(template, settings, values)
    print(f"Deployed {template.path.stem}: {deployed.template_url} on {settings.schedule_cron}")


def _checked(
    args: argparse.Namespace, for_schedule: bool
) -> tuple[PipelineTemplate, VertexSettings, dict]:
    """Everything that can be checked offline, before the first request."""
    name = check_pipeline_name(args.name)
    settings = load_settings(for_schedule=for_schedule)
    template = PipelineTemplate.load(Path(args.template_dir) / f"{name}.yaml")
    values = template.parameter_values(args.set)
    defaults = template.defaults()
    case = name if name in PIPELINES else None  # None: a service pipeline (monitoring)
    check_run_values(values, defaults, parameter_value_problems(case, values, defaults))
    template.check_images()
    return template, settings, values


def _print_request(job, settings: VertexSettings, template: PipelineTemplate) -> None:
    body = request_body(job, settings)
    out = template.path.with_name(f"{template.path.stem}.request.json")
    out.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n")
    endpoint = settings.api_endpoint or f"https://{settings.region}-aiplatform.googleapis.com"
    shown = {k: v for k, v in body.items() if k != "pipelineSpec"}
    print(
        f"Dry run: nothing was sent. The request would be\n  POST {endpoint}/v1/"
        f"projects/{settings.project}/locations/{settings.region}/pipelineJobs"
        f"?pipelineJobId={job.job_id}"
    )
    print(json.dumps(shown, indent=2, sort_keys=True))
    print(f"Images: {', '.join(sorted(template.images()))}")
    print(f"Full request body with the pipeline spec: {out}")
