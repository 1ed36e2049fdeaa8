"""The emulator's Vertex AI services alone, in this process, for tests of Vertex clients.

The gRPC and REST servers and the model, endpoint, prediction and custom-job
services of the emulator, without its storage, proxy or orchestrator: what
a test of code that calls the Vertex AI API needs, started in milliseconds.
Serving containers started by a deploy are real processes (see echo_container.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc

from pipelines.emulator.rpc.grpc_server import running_grpc_server
from pipelines.emulator.rpc.rest_gateway import running_rest_gateway
from pipelines.emulator.vertex.endpoints import EndpointService
from pipelines.emulator.vertex.jobs import JobService
from pipelines.emulator.vertex.model_monitoring import ModelMonitoringService
from pipelines.emulator.vertex.models import ModelService
from pipelines.emulator.vertex.operations import Operations
from pipelines.emulator.vertex.pipeline_jobs import PipelineService
from pipelines.emulator.vertex.prediction import PredictionService
from pipelines.emulator.vertex.state import EmulatorState
from tests.conftest import REPO

ECHO_CONTAINER = str(REPO / "tests" / "pipelines" / "emulator" / "echo_container.py")


@dataclass
class VertexApi:
    state: EmulatorState
    endpoints: EndpointService
    grpc_port: int
    rest_url: str

    @property
    def parent(self) -> str:
        return self.state.parent

    def client(self, kind: type, transport: str = "grpc"):
        """A real aiplatform_v1 client of `kind` on this API."""
        if transport == "rest":
            from google.auth.credentials import AnonymousCredentials

            return kind(
                transport="rest",
                client_options={"api_endpoint": self.rest_url},
                credentials=AnonymousCredentials(),
            )
        channel = grpc.insecure_channel(f"127.0.0.1:{self.grpc_port}")
        transport_class = type(kind.get_transport_class("grpc")(channel=channel))
        return kind(transport=transport_class(channel=channel))


def _reader(gcs_root: Path | None):
    """gs://bucket/path read as <gcs_root>/bucket/path (None: Cloud Storage is not read)."""
    if gcs_root is None:
        return None

    def read(uri: str) -> bytes | None:
        path = gcs_root / uri.removeprefix("gs://")
        return path.read_bytes() if path.is_file() else None

    return read


@contextlib.contextmanager
def running_vertex_api(
    project: str, location: str, log_dir: Path, gcs_root: Path | None = None
) -> Iterator[VertexApi]:
    """`gcs_root`: a directory playing Cloud Storage for the files the monitoring jobs name."""
    state = EmulatorState(project, location)
    operations = Operations(state)
    jobs = JobService(state, operations, dict, log_dir, lambda: None, lambda: None, lambda _: None)
    models = ModelService(state, operations)
    endpoints = EndpointService(state, operations, models, dict, lambda _: None)
    services = [
        operations, jobs, models, endpoints, PredictionService(state, endpoints, seed=7),
        PipelineService(state, lambda *_: None, lambda _: None),
        ModelMonitoringService(state, operations, _reader(gcs_root)),
    ]  # fmt: skip
    rpcs = [rpc for service in services for rpc in service.rpcs()]
    with (
        running_grpc_server(rpcs, on_request=state.observe) as grpc_port,
        running_rest_gateway(rpcs, on_request=state.observe) as rest_port,
    ):
        try:
            yield VertexApi(state, endpoints, grpc_port, f"http://127.0.0.1:{rest_port}")
        finally:
            endpoints.stop_all()
