"""The whole emulator in one context manager: storage, metadata, proxy, gRPC and REST, services.

    with running_emulator(Path("build/emulator")) as emulator:
        os.environ.update(emulator.client_environment)   # any client now talks to it
        ...

Everything listens on 127.0.0.1. Clients reach it unchanged through the
environment (network/client_env.py): the proxy sends
<region>-aiplatform.googleapis.com and cloudresourcemanager.googleapis.com
to the gRPC or REST server by protocol, bigquery.googleapis.com and
<region>-kfp.pkg.dev to the REST server, storage.googleapis.com to the
storage emulator; any other host is refused.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from google.cloud import aiplatform_v1 as v1

from pipelines.emulator import processes
from pipelines.emulator.bigquery.service import BigQueryEmulator
from pipelines.emulator.gcs_fuse import FuseView
from pipelines.emulator.network.client_env import apply, client_environment
from pipelines.emulator.network.metadata_server import running_metadata_server
from pipelines.emulator.network.proxy import Upstream, running_proxy
from pipelines.emulator.network.tls import make_certificates
from pipelines.emulator.orchestrator.pipeline_run import (
    PipelineRunError,
    VertexRunContext,
    run_pipeline_spec,
    step_environment,
)
from pipelines.emulator.rpc.grpc_server import running_grpc_server
from pipelines.emulator.rpc.rest_gateway import running_rest_gateway
from pipelines.emulator.vertex.batch_prediction import BatchPredictionService
from pipelines.emulator.vertex.endpoints import EndpointService
from pipelines.emulator.vertex.jobs import JobService
from pipelines.emulator.vertex.kfp_registry import KfpRegistry
from pipelines.emulator.vertex.model_monitoring import ModelMonitoringService
from pipelines.emulator.vertex.models import ModelService
from pipelines.emulator.vertex.operations import Operations
from pipelines.emulator.vertex.pipeline_jobs import PipelineService
from pipelines.emulator.vertex.prediction import PredictionService
from pipelines.emulator.vertex.projects import ProjectService
from pipelines.emulator.vertex.schedules import ScheduleService
from pipelines.emulator.vertex.state import EmulatorState
from pipelines.emulator.vertex.tuning_jobs import TuningJobService
from pipelines.local.gcs_emulator import running_gcs_emulator

DEFAULT_PROJECT = "emulator-project"
DEFAULT_LOCATION = "us-central1"
SERVICE_ACCOUNT = "pipelines@{project}.iam.gserviceaccount.com"
DEFAULT_PIPELINE_ROOT = "gs://emulator-pipelines/root"
MONITORING_DIR = "monitoring"  # <home>/monitoring/<id>.json: the model monitoring jobs
NOTIFICATIONS_DIR = "notifications"  # <home>/notifications/<run>.jsonl: exit notifications


class HomeInUse(RuntimeError):
    """Another emulator runs with the same home directory."""


LOOPBACK = "127.0.0.1"


@dataclass
class Emulator:
    home: Path
    state: EmulatorState
    client_environment: dict[str, str]  # what a client process needs to reach the emulator
    rest_url: str  # the REST server, for curl (http://127.0.0.1:PORT)
    fuse: FuseView
    jobs: JobService
    models: ModelService
    endpoints: EndpointService
    pipelines: PipelineService
    schedules: ScheduleService
    bigquery: BigQueryEmulator | None
    say: Callable[[str], None] = print

    pipeline_root: str = DEFAULT_PIPELINE_ROOT

    @property
    def project(self) -> str:
        return self.state.project

    @property
    def location(self) -> str:
        return self.state.location

    def client_settings(self) -> dict[str, str]:
        """What `make submit`, `make deploy` and any client process need (`make emulator`)."""
        return {
            **self.client_environment,
            "GOOGLE_CLOUD_PROJECT": self.project,
            "VERTEX_REGION": self.location,
            "VERTEX_API_ENDPOINT": self.rest_url,
            "PIPELINE_ROOT": self.pipeline_root,
            "KFP_REPOSITORY": f"https://{self.location}-kfp.pkg.dev/{self.project}/pipelines",
        }

    def point_sdk(self) -> None:
        """The aiplatform SDK of this process talks to the emulator's REST server directly, as
        `make submit` does with VERTEX_API_ENDPOINT=http://...: google-auth reads the metadata
        server's address once, when it is imported, so a running process cannot switch to it."""
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import aiplatform

        aiplatform.init(
            project=self.project,
            location=self.location,
            api_endpoint=self.rest_url,
            api_transport="rest",
            credentials=AnonymousCredentials(),
        )

    def step_environment(self) -> dict[str, str]:
        """The variables of a step, a custom-job replica or a serving container."""
        return step_environment(self._context())

    def _context(self, job: v1.PipelineJob | None = None) -> VertexRunContext:
        environment = apply(os.environ, self.client_environment)
        if job is None:
            return VertexRunContext(
                project=self.project, location=self.location, job_id="", job_resource_name="",
                pipeline_root="", fuse_root=self.fuse.root, environment=environment,
            )  # fmt: skip
        return VertexRunContext(
            project=self.project,
            location=self.location,
            job_id=job.name.rsplit("/", 1)[-1],
            job_resource_name=job.name,
            pipeline_root=job.runtime_config.gcs_output_directory
            or job.pipeline_spec.get("defaultPipelineRoot", ""),
            fuse_root=self.fuse.root,
            service_account=job.service_account,
            network=job.network,
            environment=environment,
            before_step=self.fuse.pull,
            after_step=self.fuse.push,
            on_event=self.say,
            log_dir=self.home / "logs" / job.name.rsplit("/", 1)[-1],
            on_notification=self.notify,
        )

    def notify(self, notification: dict) -> None:
        """What Vertex AI Pipelines would mail: one JSON line in
        <home>/notifications/<run id>.jsonl, and a line on the console."""
        run = notification["pipeline_job"].rsplit("/", 1)[-1]
        path = self.home / NOTIFICATIONS_DIR / f"{run}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as out:
            out.write(json.dumps(notification, sort_keys=True) + "\n")
        failed = notification["failed_tasks"]
        self.say(
            f"Notification email to {', '.join(notification['recipients'])}: "
            f"{notification['pipeline_job']} {notification['state']}"
            + (f" (failed: {', '.join(failed)})" if failed else "")
        )

    def run_pipeline_job(self, job: v1.PipelineJob, spec: dict, values: dict) -> None:
        """Run it; a failure names the failed step and, as the Vertex console does, the error
        of any custom job it ran (GCPC's launcher says only "Job failed with error state")."""
        before = self.jobs.names()
        try:
            run_pipeline_spec(spec, values, self._context(job))
        except PipelineRunError as failure:
            jobs = self.jobs.failed(self.jobs.names() - before)
            details = "".join(f"\n\nCustom job {j.name} failed: {j.error.message}" for j in jobs)
            raise PipelineRunError(failure.task, failure.log_tail + details) from None


def read_gcs_object(fuse: FuseView, uri: str) -> bytes | None:
    """An object's bytes: as a step left it in the FUSE view, else from storage; None if none."""
    from google.api_core import exceptions

    from serving.contracts.storage import storage_client

    key = uri.removeprefix("gs://")
    path = fuse.root / key
    if path.is_file():
        return path.read_bytes()
    bucket, _, name = key.partition("/")
    try:
        return storage_client().bucket(bucket).blob(name).download_as_bytes()
    except exceptions.NotFound:
        return None


@contextlib.contextmanager
def running_emulator(
    home: Path,
    project: str = DEFAULT_PROJECT,
    location: str = DEFAULT_LOCATION,
    bigquery_database: Path | None = None,
    say: Callable[[str], None] = print,
) -> Iterator[Emulator]:
    """Start every part; stop them all (and every served model) on exit."""
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    lock = (home / "emulator.lock").open("w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise HomeInUse(
            f"Another Vertex AI emulator is running with {home}: stop it, or give this one "
            "another home (--home DIR)."
        ) from None
    state = EmulatorState(project, location)
    operations = Operations(state)
    # The storage emulator starts empty (in memory), and so does its FUSE view.
    shutil.rmtree(home / "gcs", ignore_errors=True)
    fuse = FuseView(home / "gcs")
    holder: dict[str, Emulator] = {}

    def environment() -> dict[str, str]:
        return holder["emulator"].step_environment()

    jobs = JobService(state, operations, environment, home / "logs", fuse.pull, fuse.push, say)
    models = ModelService(state, operations)
    endpoints = EndpointService(state, operations, models, environment, say)
    pipelines = PipelineService(
        state, lambda job, spec, values: holder["emulator"].run_pipeline_job(job, spec, values), say
    )
    schedules = ScheduleService(state, operations, pipelines)
    monitoring = ModelMonitoringService(
        state, operations, lambda uri: read_gcs_object(fuse, uri), home / MONITORING_DIR
    )
    bigquery = BigQueryEmulator(bigquery_database, project) if bigquery_database else None
    batch = BatchPredictionService(state, models, environment, say, bigquery_database)
    tuning = TuningJobService(state, environment, home, fuse.pull, fuse.push, say)
    registry = KfpRegistry()
    rpcs = [
        *operations.rpcs(), *jobs.rpcs(), *models.rpcs(), *endpoints.rpcs(),
        *PredictionService(state, endpoints).rpcs(), *pipelines.rpcs(), *schedules.rpcs(),
        *monitoring.rpcs(), *batch.rpcs(), *tuning.rpcs(), *ProjectService(state).rpcs(),
    ]  # fmt: skip

    def extra_routes(method, path, query, headers, body):
        if path.startswith("/emulator/v1/") and method == "POST" and path.endswith(":runNow"):
            job = schedules.run_now(path[len("/emulator/v1/") : -len(":runNow")])
            return 200, {"Content-Type": "application/json"}, v1.PipelineJob.to_json(job).encode()
        if bigquery is not None:
            first = {key: values[0] for key, values in query.items() if values}
            answer = bigquery.handle(method, path, first, headers, body)
            if answer is not None:
                return answer
        return registry.handle(method, path, query, headers, body)

    certificates = make_certificates(home / "tls")
    with contextlib.ExitStack() as stack:
        stack.callback(lock.close)
        storage_host = stack.enter_context(running_gcs_emulator())
        grpc_port = stack.enter_context(running_grpc_server(rpcs, on_request=state.observe))
        rest_port = stack.enter_context(
            running_rest_gateway(rpcs, extra_routes=extra_routes, on_request=state.observe)
        )
        metadata = stack.enter_context(
            running_metadata_server(project, SERVICE_ACCOUNT.format(project=project))
        )
        storage = urlparse(storage_host)
        both = Upstream(http1=(LOOPBACK, rest_port), h2=(LOOPBACK, grpc_port))
        routes = {
            f"{location}-aiplatform.googleapis.com": both,
            "cloudresourcemanager.googleapis.com": both,
            "bigquery.googleapis.com": Upstream(http1=(LOOPBACK, rest_port)),
            f"{location}-kfp.pkg.dev": Upstream(http1=(LOOPBACK, rest_port)),
            "storage.googleapis.com": Upstream(http1=(storage.hostname, storage.port)),
        }
        proxy_port = stack.enter_context(running_proxy(certificates, routes.get))
        environment_for_clients = {
            **client_environment(proxy_port, metadata, certificates, project, home),
            "STORAGE_EMULATOR_HOST": storage_host,
        }
        emulator = Emulator(
            home, state, environment_for_clients, f"http://{LOOPBACK}:{rest_port}", fuse, jobs,
            models, endpoints, pipelines, schedules, bigquery, say,
        )  # fmt: skip
        holder["emulator"] = emulator
        stack.callback(processes.stop_all)  # steps and replicas still running
        stack.callback(endpoints.stop_all)
        if bigquery is not None:
            stack.callback(bigquery.close)
        yield emulator
