"""Small real SavedModels for the server's tests, and a server running on 127.0.0.1.

`export_scaler` writes a model with the project's export code whose answer
says which version answered: `window` [N, 3] -> `forecast` = version x the
row sums, and `total` the same summed; a NaN (a null in JSON) passes request
checks but fails inside the model. The vision and text models trained
by the project are served in test_served_case_studies.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import tensorflow as tf

from serving.registry.local_registry import LocalModelRegistry
from serving.server.deployments import Batching, Deployment
from serving.server.http_api import PredictionApp
from serving.server.http_server import serving_in_thread
from serving.server.model_server import ModelServer
from tests.conftest import REPO
from trainer.launch import free_ports
from trainer.saved_model import save_servable

WINDOW = 3


def export_scaler(model_dir: Path, factor: float) -> Path:
    scale = tf.Variable(factor)

    @tf.function(input_signature=[tf.TensorSpec([None, WINDOW], tf.float32, name="window")])
    def serve(window):
        window = tf.debugging.check_numerics(window, "window")  # a NaN fails inside the model
        forecast = tf.reduce_sum(window, axis=1, keepdims=True) * scale
        return {"forecast": forecast, "total": tf.reduce_sum(forecast, axis=1)}

    save_servable(model_dir, serve, [scale], {"task": "test_scaler"})
    return model_dir


@pytest.fixture(scope="session")
def scaler_exports(tmp_path_factory) -> list[Path]:
    """Exports whose factor is 1, 2, 3: registered in order, version v answers v x the sum."""
    root = tmp_path_factory.mktemp("scalers")
    return [export_scaler(root / f"x{factor}", float(factor)) for factor in (1, 2, 3)]


@pytest.fixture
def registry(tmp_path, scaler_exports) -> LocalModelRegistry:
    """'scaler' with versions 1 and 2 (champion: 2)."""
    registry = LocalModelRegistry(tmp_path / "registry")
    for export in scaler_exports[:2]:
        registry.register("scaler", export)
    return registry


@contextlib.contextmanager
def running_server(server: ModelServer, poll_s: float = 0, **app_options) -> Iterator[str]:
    """Serve `server` on a free 127.0.0.1 port; yield the base URL; stop everything after."""
    with serving_in_thread(PredictionApp(server, **app_options)) as (base, _):
        server.start(poll_s)
        try:
            yield base
        finally:
            server.stop()


def scaler_server(registry: LocalModelRegistry, **options) -> ModelServer:
    deployment_options = {
        k: options.pop(k) for k in ("traffic", "batching", "load") if k in options
    }
    # the queue's time bound far off: tests under load on a busy CI machine get no 429s
    deployment_options.setdefault("batching", Batching(8, 0.002, max_queue_s=10))
    deployment = Deployment(registry, "scaler", **deployment_options)
    return ModelServer({"scaler": deployment}, **options)


def wait_ready(base: str, timeout_s: float = 60, health: str = "/health") -> None:
    """Poll the health route until 200 (connections are refused until the server listens)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(urllib.error.URLError, ConnectionError):
            if call(base, health)[0] == 200:
                return
        time.sleep(0.05)
    raise AssertionError(f"{base} was not ready within {timeout_s} s")


def call(base: str, path: str, body: object = None, raw: bytes | None = None) -> tuple[int, dict]:
    """(status, JSON body) of a GET (no body) or POST to the server."""
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base + path, data=data, method="GET" if data is None else "POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@contextlib.contextmanager
def serving_process(
    args: list[str], env: dict[str, str] | None = None
) -> Iterator[tuple[str, object]]:
    """Start `python -m serving ARGS` on a free port; yield (base URL, the process).

    Its output goes to a file, not a pipe nobody reads (a full pipe would block
    the server), and is printed when the block fails.
    """
    port = free_ports(1)[0]
    environ = {**os.environ, "AIP_HTTP_PORT": str(port), **(env or {})}
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "serving", *args],
            cwd=REPO,
            env=environ,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            yield f"http://127.0.0.1:{port}", process
        except BaseException:
            log.seek(0)
            print(log.read()[-5000:])
            raise
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
