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
import contextlib
import json
import logging
import os
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipelines.emulator.service import Emulator

BUILD = Path("build")
EMULATOR_HOME = BUILD / "emulator"
UPLOADED_DATA = "gs://emulator-data"  # where a local --source is put
_RUN_TIMEOUT_S = 3600.0


def add_commands(commands: argparse._SubParsersAction, pipeline_names: list[str]) -> None:
    emulate = commands.add_parser(
        "emulate", help="run a pipeline's compiled Vertex AI YAML on the local Vertex AI emulator"
    )
    emulate.add_argument(
        "name", nargs="?", choices=pipeline_names,
        help="a case study: compiled for Vertex AI and run on its demo data",
    )  # fmt: skip
    emulate.add_argument(
        "--source",
        help="the data, as for run (default: the demo data); a local file or directory is "
        f"uploaded to the emulator's Cloud Storage under {UPLOADED_DATA}/",
    )
    emulate.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    emulate.add_argument(
        "--template", help="run this compiled pipeline YAML (without NAME: with --set values only)"
    )
    emulate.add_argument(
        "--serve", action=argparse.BooleanOptionalAction, default=None,
        help="keep serving the endpoint after the run until Ctrl-C (default: on a terminal)",
    )  # fmt: skip
    emulator = commands.add_parser("emulator", help="start the local Vertex AI emulator alone")
    emulator.add_argument("--project", default=None)
    for command in (emulate, emulator):
        command.add_argument("--home", default=str(EMULATOR_HOME), help="%(default)s")


def emulate_command(args: argparse.Namespace) -> None:
    from pipelines.catalog import case_of_pipeline, get_demo
    from pipelines.compile import compile_pipeline
    from pipelines.parameters import parameter_value_problems, parse_overrides
    from pipelines.vertex.run_values import check_run_values
    from pipelines.vertex.template import PipelineTemplate
    from trainer.catalog import case_names, check_case_name

    if not args.name and not args.template:
        raise SystemExit(
            f"emulate: give a case study ({', '.join(case_names())}) or --template PATH."
        )
    home = Path(args.home)
    name = check_case_name(args.name) if args.name else None
    path = args.template or compile_pipeline(name, home / "pipelines")
    template = PipelineTemplate.load(path)
    overrides = parse_overrides(args.set, template.parameter_types())
    demo = get_demo(name) if name else None
    # A local SOURCE goes into the emulator's Cloud Storage, where a Vertex run would read it.
    local_source = Path(args.source) if args.source and Path(args.source).exists() else None
    source = f"{UPLOADED_DATA}/{local_source.name}" if local_source else args.source
    given = {**overrides, **({_source_parameter(template): source} if source else {})}
    case = name or case_of_pipeline(template.name)
    # what `make submit` refuses, refused here too
    defaults = template.defaults()
    check_run_values(given, defaults, parameter_value_problems(case, given, defaults))
    if demo is None:
        template.check_required(given)
    database = demo.demo_database(BUILD) if hasattr(demo, "demo_database") else None
    started = time.monotonic()
    with _emulator(home, bigquery_database=database) as emulator:
        os.environ.update(emulator.client_environment)
        if local_source:
            _upload(local_source, source)
        arguments = {**demo.emulator_arguments(BUILD, overrides), **given} if demo else given
        job = _submit(emulator, template, arguments)
        finished = emulator.pipelines.wait(job.resource_name, _RUN_TIMEOUT_S)
        seconds = time.monotonic() - started
        print(f"\nPipeline run {finished.name}: {finished.state.name} in {seconds:.0f}s")
        print(f"Step logs: {emulator.home / 'logs'}")
        print("Container images were not reproduced: every step ran in this Python environment.")
        if finished.state != finished.state.PIPELINE_STATE_SUCCEEDED:
            reason = finished.error.message or f"it did not end within {_RUN_TIMEOUT_S:.0f}s"
            raise SystemExit(f"The run failed: {reason}")
        _print_endpoints(emulator, demo.example_instances(BUILD, arguments) if demo else None)
        serve = sys.stdin.isatty() if args.serve is None else args.serve
        if serve and emulator.endpoints.servers:
            print("Serving until Ctrl-C.")
            _wait_for_interrupt()


def emulator_command(args: argparse.Namespace) -> None:
    from pipelines.catalog import PIPELINES, get_demo
    from pipelines.emulator.network.client_env import CLEARED_VARIABLES
    from pipelines.emulator.service import DEFAULT_PROJECT

    project = args.project or DEFAULT_PROJECT
    demos = [get_demo(name) for name in PIPELINES]
    # The demo warehouse of the case study that reads BigQuery, for `make submit` to run on
    [warehouse] = [demo.demo_database(BUILD) for demo in demos if hasattr(demo, "demo_database")]
    with _emulator(Path(args.home), project=project, bigquery_database=warehouse) as emulator:
        env_file = emulator.home / "env.sh"
        settings = sorted(emulator.client_settings().items())
        lines = [f"unset {name}" for name in CLEARED_VARIABLES]
        lines += [f"export {key}={shlex.quote(value)}" for key, value in settings]
        env_file.write_text("# Points this shell's Google Cloud clients at the emulator.\n"
                            + "\n".join(lines) + "\n")  # fmt: skip
        try:
            print(f"The Vertex AI emulator is running. In another shell:\n  source {env_file}")
            print(
                "That shell's Google Cloud clients (make submit, make deploy, aiplatform, GCPC, "
                "bigquery, storage) then use the emulator, through its proxy and CA, until you "
                "close the shell."
            )
            print(
                f"BigQuery serves the demo warehouse {warehouse}; Cloud Storage starts empty "
                "(upload with google-cloud-storage: STORAGE_EMULATOR_HOST is in env.sh)."
            )
            schedules = f"{emulator.rest_url}/emulator/v1/{emulator.state.parent}/schedules"
            print(f"Run a schedule now: curl -X POST {schedules}/ID:runNow")
            print("Ctrl-C stops it.")
            _wait_for_interrupt()
        finally:
            env_file.unlink(missing_ok=True)


@contextlib.contextmanager
def _emulator(home: Path, **options):
    """The emulator until the block ends, Ctrl-C, or SIGTERM: each stops every part it started."""
    from pipelines.emulator.service import HomeInUse, running_emulator

    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with running_emulator(home, **options) as emulator:
            yield emulator
    except HomeInUse as error:
        raise SystemExit(str(error)) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame) -> None:
    """SIGTERM (kill, a process manager) as Ctrl-C, which an `&` job in a script ignores."""
    raise KeyboardInterrupt


def _upload(local: Path, uri: str) -> None:
    from pipelines.local.gcs_emulator import upload_directory, upload_file

    if local.is_dir():
        print(f"Uploaded {upload_directory(local, uri)} files of {local} to {uri}")
    else:
        upload_file(local, uri)
        print(f"Uploaded {local} to {uri}")


def _submit(emulator: Emulator, template, arguments: dict):
    from google.cloud import aiplatform

    from pipelines.vertex.api_errors import explained

    emulator.point_sdk()
    # The SDK's own lines point at the Cloud console, which does not show emulated runs.
    logging.getLogger("google.cloud.aiplatform").setLevel(logging.WARNING)
    job = aiplatform.PipelineJob(
        display_name=template.name,
        template_path=str(template.path),
        pipeline_root=emulator.pipeline_root,
        parameter_values=arguments,
        enable_caching=False,
    )
    with explained("submit", f"{template.path} to the emulator"):
        job.submit()
    print(f"Submitted {template.path} with aiplatform.PipelineJob: {job.resource_name}")
    return job


def _source_parameter(template) -> str:
    return "source_query" if "source_query" in template.parameters else "source_uri"


def _print_endpoints(emulator: Emulator, instances: list | None) -> None:
    """Each endpoint with a deployed model: how to call it, and its answer to `instances`."""
    from google.api_core.exceptions import GoogleAPICallError
    from google.cloud import aiplatform

    for endpoint in aiplatform.Endpoint.list():
        deployed = endpoint.list_models()
        if not deployed:
            continue
        url = f"{emulator.rest_url}/v1/{endpoint.resource_name}:predict"
        print(f"\nEndpoint:  {endpoint.resource_name} ({endpoint.display_name})")
        for model in deployed:
            split = endpoint.traffic_split.get(model.id, 0)
            print(f"  deployed: {model.id} = {model.model}@{model.model_version_id} ({split}%)")
        print(f"  Python:   aiplatform.Endpoint({endpoint.resource_name!r}).predict(instances=...)")
        if instances is None:
            print(f"  curl:     curl -s -H 'Content-Type: application/json' {url} "
                  "-d '{\"instances\": [...]}'")  # fmt: skip
            continue
        request = emulator.home / f"request-{endpoint.name}.json"
        request.write_text(json.dumps({"instances": instances}))
        print(f"  curl:     curl -s -H 'Content-Type: application/json' {url} -d @{request}")
        try:
            answer = endpoint.predict(instances=instances)
        except GoogleAPICallError as error:
            raise SystemExit(
                f"The endpoint did not answer the demo request {request}: {error}"
            ) from None
        print(f"  answer:   {json.dumps(answer.predictions)[:300]}")


def _wait_for_interrupt() -> None:
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("Stopped.")
