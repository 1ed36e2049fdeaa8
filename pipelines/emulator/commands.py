"""`python -m pipelines emulate NAME` and `python -m pipelines emulator`.

emulate: compile NAME for Vertex AI (or take --template), start the
emulator, put the demo data where a Vertex run reads it (Cloud Storage,
BigQuery), submit the YAML with the real aiplatform SDK, follow it, and
print the endpoint it deployed with ready curl and Endpoint.predict lines.
emulator: start the service alone and print the settings that point
`make submit`, `make deploy` and any aiplatform or GCPC client at it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipelines.emulator.service import Emulator

BUILD = Path("build")
EMULATOR_HOME = BUILD / "emulator"
PIPELINE_ROOT = "gs://emulator-pipelines/root"
_RUN_TIMEOUT_S = 3600.0


def add_commands(commands: argparse._SubParsersAction, pipeline_names: list[str]) -> None:
    emulate = commands.add_parser(
        "emulate", help="run a pipeline's compiled Vertex AI YAML on the local Vertex AI emulator"
    )
    emulate.add_argument("name", choices=pipeline_names)
    emulate.add_argument("--source", help="the data, as for run (default: the demo data)")
    emulate.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    emulate.add_argument("--template", help="run this compiled pipeline YAML instead")
    emulate.add_argument(
        "--serve", action=argparse.BooleanOptionalAction, default=None,
        help="keep serving the endpoint after the run until Ctrl-C (default: on a terminal)",
    )  # fmt: skip
    emulator = commands.add_parser("emulator", help="start the local Vertex AI emulator alone")
    emulator.add_argument("--project", default=None)


def emulate_command(args: argparse.Namespace) -> None:
    from pipelines.catalog import check_pipeline_name
    from pipelines.compile import compile_pipeline
    from pipelines.emulator.service import running_emulator
    from pipelines.local.demos import DEMOS
    from pipelines.parameters import parse_overrides
    from pipelines.vertex.template import PipelineTemplate

    name = check_pipeline_name(args.name)
    template = PipelineTemplate.load(
        args.template or compile_pipeline(name, EMULATOR_HOME / "pipelines")
    )
    overrides = parse_overrides(args.set, template.parameter_types())
    demo = DEMOS[name]
    database = demo.demo_database(BUILD) if hasattr(demo, "demo_database") else None
    started = time.monotonic()
    with running_emulator(EMULATOR_HOME, bigquery_database=database) as emulator:
        os.environ.update(emulator.client_environment)
        arguments = demo.emulator_arguments(BUILD, overrides)
        if args.source:
            arguments[_source_parameter(template)] = args.source
        job = _submit(emulator, template, arguments)
        finished = emulator.pipelines.wait(job.resource_name, _RUN_TIMEOUT_S)
        print(f"\nPipeline run {finished.name}: {finished.state.name} "
              f"in {time.monotonic() - started:.0f}s")  # fmt: skip
        print("Container images were not reproduced: every step ran in this Python environment.")
        if finished.error.message:
            raise SystemExit(f"The run failed: {finished.error.message}")
        _print_endpoints(emulator, demo.example_instances(BUILD))
        serve = sys.stdin.isatty() if args.serve is None else args.serve
        if serve and emulator.endpoints.servers:
            print("Serving until Ctrl-C.")
            _wait_for_interrupt()


def emulator_command(args: argparse.Namespace) -> None:
    from pipelines.emulator.service import DEFAULT_PROJECT, running_emulator

    project = args.project or DEFAULT_PROJECT
    with running_emulator(EMULATOR_HOME, project=project) as emulator:
        settings = {
            **emulator.client_environment,
            "GOOGLE_CLOUD_PROJECT": project,
            "VERTEX_REGION": emulator.location,
            "VERTEX_API_ENDPOINT": emulator.rest_url,
            "PIPELINE_ROOT": PIPELINE_ROOT,
            "KFP_REPOSITORY": f"https://{emulator.location}-kfp.pkg.dev/{project}/pipelines",
        }
        env_file = emulator.home / "env.sh"
        env_file.write_text("".join(f"export {k}={v}\n" for k, v in sorted(settings.items())))
        print(f"The Vertex AI emulator is running. In another shell:\n  source {env_file}")
        print("then make submit / make deploy (or any aiplatform, GCPC or bigquery client).")
        print(f"Run a schedule now: curl -X POST {emulator.rest_url}/emulator/v1/"
              f"projects/{project}/locations/{emulator.location}/schedules/ID:runNow")  # fmt: skip
        print("Ctrl-C stops it.")
        _wait_for_interrupt()


def _submit(emulator: Emulator, template, arguments: dict):
    from google.cloud import aiplatform

    emulator.point_sdk()
    job = aiplatform.PipelineJob(
        display_name=template.name,
        template_path=str(template.path),
        pipeline_root=PIPELINE_ROOT,
        parameter_values=arguments,
        enable_caching=False,
    )
    job.submit()
    return job


def _source_parameter(template) -> str:
    return "source_query" if "source_query" in template.parameters else "source_uri"


def _print_endpoints(emulator: Emulator, instances: list) -> None:
    """Each endpoint with a deployed model: how to call it, and its answer to `instances`."""
    from google.cloud import aiplatform

    for endpoint in aiplatform.Endpoint.list():
        deployed = endpoint.list_models()
        if not deployed:
            continue
        request = emulator.home / f"request-{endpoint.name}.json"
        request.write_text(json.dumps({"instances": instances}))
        url = f"{emulator.rest_url}/v1/{endpoint.resource_name}:predict"
        print(f"\nEndpoint:  {endpoint.resource_name} ({endpoint.display_name})")
        for model in deployed:
            split = endpoint.traffic_split.get(model.id, 0)
            print(f"  deployed: {model.id} = {model.model}@{model.model_version_id} ({split}%)")
        print(f"  curl:     curl -s -H 'Content-Type: application/json' {url} -d @{request}")
        print(f"  Python:   aiplatform.Endpoint({endpoint.resource_name!r}).predict(instances=...)")
        answer = endpoint.predict(instances=instances)
        print(f"  answer:   {json.dumps(answer.predictions)[:300]}")


def _wait_for_interrupt() -> None:
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("Stopped.")
