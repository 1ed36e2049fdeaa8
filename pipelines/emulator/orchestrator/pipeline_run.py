"""Run a compiled Vertex AI pipeline spec as Vertex AI Pipelines would, on this machine.

The spec is the dict form of the YAML `kfp.compiler` writes for Vertex AI.
kfp.local's orchestrator walks its DAG (kfp_runtime.py makes it follow
Vertex's conventions); every task's command runs as a local process in this
Python environment (container_tasks.py), with the environment
`step_environment` gives. Artifacts get gs:// URIs under the pipeline root;
steps see them in `fuse_root`, which plays Cloud Storage FUSE (/gcs): the
`before_step` and `after_step` hooks are where it is synced with storage.
kfp.local's configuration is global, so runs take turns.
"""

from __future__ import annotations

import datetime
import os
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.emulator.formats import GCS_URI, PIPELINE_JOB_ID
from pipelines.emulator.orchestrator import kfp_runtime
from pipelines.emulator.orchestrator.container_tasks import StepProcesses

STEP_SITE = Path(__file__).resolve().parent / "step_site"
GCS_ROOT_VAR = "VERTEX_EMULATOR_GCS_ROOT"
POLL_SECONDS_VAR = "VERTEX_EMULATOR_POLL_SECONDS"
PYTHON_VAR = "VERTEX_EMULATOR_PYTHON"
DEFAULT_POLL_SECONDS = "1"

_RUN_LOCK = threading.Lock()


def _nothing() -> None:
    pass


@dataclass(frozen=True)
class VertexRunContext:
    """What Vertex AI knows about a pipeline job, and where this machine keeps its files."""

    project: str
    location: str
    job_id: str  # the PipelineJob id: {{$.pipeline_job_name}}
    job_resource_name: str  # projects/<p>/locations/<l>/pipelineJobs/<id>
    pipeline_root: str  # gs://bucket/root
    fuse_root: Path  # gs://bucket/path is fuse_root/bucket/path for steps
    service_account: str = ""
    network: str = ""
    environment: Mapping[str, str] = field(default_factory=dict)  # extra env for every step
    before_step: Callable[[], None] = _nothing  # before each task process starts
    after_step: Callable[[], None] = _nothing  # after it exits
    on_event: Callable[[str], None] = print  # one line per task start and end
    log_dir: Path | None = None  # each task's log as <log_dir>/<task>.log; None: stdout
    enable_caching: bool = False
    # an exit handler's email notification (kfp_runtime._notification), which Vertex sends
    on_notification: Callable[[dict], None] = print


class PipelineRunError(Exception):
    """A task of the run failed; `log_tail` is the end of its output."""

    def __init__(self, task: str, log_tail: str):
        super().__init__(f"Task {task!r} failed. The end of its log:\n{log_tail}")
        self.task = task
        self.log_tail = log_tail


def run_pipeline_spec(
    pipeline_spec: Mapping[str, Any],
    parameter_values: Mapping[str, Any],
    context: VertexRunContext,
) -> dict[str, Any]:
    """Runs the pipeline to its end; returns its outputs as kfp.local does.

    Raises PipelineRunError naming the first task that failed.
    """
    _check(context)
    context.fuse_root.mkdir(parents=True, exist_ok=True)
    fuse_root = context.fuse_root.resolve()
    steps = StepProcesses(
        step_environment(context),
        context.before_step,
        context.after_step,
        context.on_event,
        context.log_dir,
    )
    runtime = kfp_runtime.Runtime(
        pipeline_root=context.pipeline_root.rstrip("/"),
        job_id=context.job_id,
        fuse_root=fuse_root,
        constants=_pipeline_placeholders(context),
        run_step=steps.run,
        on_event=context.on_event,
        enable_caching=context.enable_caching,
        on_notification=context.on_notification,
    )
    with _RUN_LOCK, kfp_runtime.patched(runtime) as failures:
        try:
            return kfp_runtime.run(pipeline_spec, parameter_values)
        except RuntimeError as error:
            if not failures:
                raise
            raise PipelineRunError(failures[0].task, failures[0].log_tail) from error


def step_environment(context: VertexRunContext) -> dict[str, str]:
    """The environment of a step process: also what custom-job replicas get.

    `context.environment`, plus this interpreter as `python3`/`python` on PATH,
    step_site (sitecustomize.py) on PYTHONPATH, and its settings: Cloud Storage
    FUSE at `context.fuse_root`, GCPC's polling every second unless
    `context.environment` says otherwise.
    """
    env = dict(context.environment)

    def prepend(variable: str, entry: Path, default: str) -> str:
        rest = env.get(variable, os.environ.get(variable, default))
        return os.pathsep.join(p for p in (str(entry), rest) if p)

    env["PATH"] = prepend("PATH", STEP_SITE / "bin", os.defpath)
    env["PYTHONPATH"] = prepend("PYTHONPATH", STEP_SITE, "")
    env[PYTHON_VAR] = sys.executable
    env[GCS_ROOT_VAR] = str(context.fuse_root.resolve())
    env.setdefault(POLL_SECONDS_VAR, DEFAULT_POLL_SECONDS)
    return env


def _pipeline_placeholders(context: VertexRunContext) -> dict[str, str]:
    """The pipeline-level placeholders Vertex AI fills and kfp.local does not."""
    created = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "pipeline_google_cloud_project_id": context.project,
        "pipeline_google_cloud_location": context.location,
        "pipeline_service_account": context.service_account,
        "pipeline_network": context.network,
        "pipeline_persistent_resource_id": "",
        "pipeline_encryption_key_name": "",
        "pipeline_job_resource_name": context.job_resource_name,
        "pipeline_job_create_time_utc": created,
        "pipeline_job_schedule_time_utc": created,
    }


def _check(context: VertexRunContext) -> None:
    if not GCS_URI.match(context.pipeline_root):
        raise ValueError(
            f"pipeline_root {context.pipeline_root!r} is not a gs://bucket/path URI: "
            "Vertex AI Pipelines keeps artifacts in Cloud Storage."
        )
    if not PIPELINE_JOB_ID.match(context.job_id):
        raise ValueError(
            f"job_id {context.job_id!r} is not a PipelineJob id: lowercase letters, digits "
            "and hyphens, at most 128."
        )
    expected = f"/locations/{context.location}/pipelineJobs/{context.job_id}"
    if not (
        context.job_resource_name.startswith("projects/")
        and context.job_resource_name.endswith(expected)
    ):
        raise ValueError(
            f"job_resource_name {context.job_resource_name!r} is not projects/<project>{expected}."
        )
    variable = POLL_SECONDS_VAR
    if variable in context.environment:
        try:
            float(context.environment[variable])
        except ValueError:
            raise ValueError(
                f"{variable}={context.environment[variable]!r} is not a number of seconds."
            ) from None
