"""A deployed model's serving container, run as a local process with Vertex AI's AIP_* variables.

Vertex starts the model's containerSpec command with AIP_HTTP_PORT (its
port), AIP_PREDICT_ROUTE, AIP_HEALTH_ROUTE, AIP_STORAGE_URI (the model's
artifacts: Vertex gives a copy, here it is the artifact_uri itself) and
AIP_DEPLOYED_MODEL_ID, and sends traffic once the health route answers 200.
Here the port is a free one on 127.0.0.1 (a container must honour
AIP_HTTP_PORT, as Vertex requires), and an address of 0.0.0.0 in the
command is replaced by 127.0.0.1: inside a container it means the
container's own network, here it would mean every network of the machine.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

from google.cloud import aiplatform_v1 as v1

from pipelines.emulator import processes
from pipelines.emulator.orchestrator.container_tasks import local_command
from trainer.launch import HOST, free_ports

_READY_TIMEOUT_S = 300.0


class ServerFailed(Exception):
    """The container exited or never became healthy; the message has its log's tail."""


@dataclass
class ModelServer:
    process: subprocess.Popen
    port: int
    predict_route: str
    health_route: str
    log: object  # the temporary file the container's output goes to

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def stop(self) -> None:
        processes.stop([self.process])
        self.log.close()

    def tail(self, limit: int = 3000) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-limit:]


def start_model_server(
    model: v1.Model, endpoint: str, deployed_model_id: str, environment: Mapping[str, str]
) -> ModelServer:
    spec = model.container_spec
    command = [*spec.command, *spec.args]
    if not command:
        raise ServerFailed(
            f"{spec.image_uri} has no command in the model's containerSpec: the emulator runs a "
            "serving container's command in this environment (no container engine), so it cannot "
            "start an image whose entrypoint it does not know. Give containerSpec a command."
        )
    endpoint_id = endpoint.rsplit("/", 1)[-1]
    default_route = f"/v1/endpoints/{endpoint_id}/deployedModels/{deployed_model_id}"
    predict_route = spec.predict_route or f"{default_route}:predict"
    health_route = spec.health_route or default_route
    [port] = free_ports(1)
    env = {
        **environment,
        **{e.name: e.value for e in spec.env},
        "AIP_HTTP_PORT": str(port),
        "AIP_PREDICT_ROUTE": predict_route,
        "AIP_HEALTH_ROUTE": health_route,
        "AIP_STORAGE_URI": model.artifact_uri,
        "AIP_DEPLOYED_MODEL_ID": deployed_model_id,
        "AIP_ENDPOINT_ID": endpoint_id,
        "AIP_MODE": "PREDICTION",
        "AIP_MODE_VERSION": "1.0.0",
    }
    command = [HOST if part == "0.0.0.0" else part for part in local_command(command)]
    log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the server)
    process = processes.start(
        command, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT
    )
    server = ModelServer(process, port, predict_route, health_route, log)
    try:
        _wait_healthy(server)
    except ServerFailed:
        server.stop()
        raise
    return server


def _wait_healthy(server: ModelServer) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerFailed(
                f"The serving container exited with code {server.process.returncode} before it "
                f"was healthy. Last lines of its log:\n{server.tail()}"
            )
        try:
            with urllib.request.urlopen(server.url + server.health_route, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise ServerFailed(
        f"The serving container did not answer 200 on {server.health_route} within "
        f"{_READY_TIMEOUT_S:.0f}s. Last lines of its log:\n{server.tail()}"
    )
