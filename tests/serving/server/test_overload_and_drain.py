"""Overload, deadlines and the SIGTERM drain, on the real server over sockets.

The model is the real scaler SavedModel, held inside its call by a gate the
test opens (a LoadedModel subclass: the only stand-in, to make "busy" last
as long as the test needs). The drain is started as uvicorn starts it on
SIGTERM, by the server's handle_exit (a signal cannot reach a server thread).
"""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import ClassVar

from serving.server.admission import Admission
from serving.server.deployments import Batching
from serving.server.http_api import PredictionApp
from serving.server.http_server import serving_in_thread
from serving.server.loaded_model import LoadedModel
from tests.serving.conftest import call, scaler_server, wait_ready

ROW = [1.0, 2.0, 3.0]


class GatedModel(LoadedModel):
    """The real model, whose calls wait for `gate` once warmed up; counts calls."""

    gate: ClassVar[threading.Event] = threading.Event()
    calls: ClassVar[list[int]] = []

    def predict(self, batch):
        if getattr(self, "warm", False):
            self.calls.append(len(batch))
            assert self.gate.wait(30)
        return super().predict(batch)

    def warm_up(self) -> None:
        super().warm_up()
        self.warm = True


def _gated_server(registry, **options):
    """The gate holds requests for as long as a test needs: the queue's time bound is far."""
    GatedModel.gate.clear()
    GatedModel.calls = []
    options.setdefault("batching", Batching(8, 0.002, max_queue_s=60))
    return scaler_server(registry, load=GatedModel, **options)


def _post(base: str, path: str = "/v1/models/scaler:predict") -> tuple[int, dict, dict]:
    body = json.dumps({"instances": [ROW]}).encode()
    request = urllib.request.Request(base + path, data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def _wait_for(condition, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.01)


def test_past_the_bound_in_flight_requests_get_429_with_retry_after_at_once(registry):
    server = _gated_server(registry, admission=Admission(max_concurrent=2))
    with serving_in_thread(PredictionApp(server)) as (base, _), ThreadPoolExecutor(2) as pool:
        server.start()
        wait_ready(base)
        busy = [pool.submit(_post, base) for _ in range(2)]
        _wait_for(lambda: server.admission.in_flight == 2)
        started = time.monotonic()
        status, headers, body = _post(base)
        assert time.monotonic() - started < 5  # at once, not after a timeout
        assert (status, headers["retry-after"]) == (429, "1")
        assert "--max-concurrent-requests" in body["error"]
        GatedModel.gate.set()
        assert [f.result()[0] for f in busy] == [200, 200]
        assert _post(base)[0] == 200


def test_a_full_batch_queue_refuses_and_a_request_past_its_deadline_uses_no_model(registry):
    batching = Batching(max_batch_size=2, max_enqueued_batches=1, max_queue_s=60)  # holds 2
    server = _gated_server(registry, batching=batching)
    app = PredictionApp(server, request_timeout_s=1.0)
    with serving_in_thread(app) as (base, _), ThreadPoolExecutor(4) as pool:
        server.start()
        wait_ready(base)
        running = pool.submit(_post, base)  # in the model, held by the gate
        _wait_for(lambda: len(GatedModel.calls) == 1)
        queued = [pool.submit(_post, base) for _ in range(2)]  # fill the queue
        _wait_for(lambda: server.deployments["scaler"].split.versions[2].batcher.queued == 2)
        status, headers, body = _post(base)
        assert (status, headers["retry-after"]) == (429, "1") and "queue holds 2" in body["error"]
        time.sleep(1.2)  # the queued requests' deadlines pass while the model is busy
        GatedModel.gate.set()
        assert running.result()[0] == 200  # it had started: it finishes
        assert [f.result()[0] for f in queued] == [504, 504]
        assert GatedModel.calls == [1]  # neither timed-out request reached the model


def test_a_slow_queue_refuses_before_the_body_is_read_and_takes_requests_once_drained(registry):
    batching = Batching(max_batch_size=2, max_queue_s=0.2)
    server = _gated_server(registry, batching=batching)
    with serving_in_thread(PredictionApp(server)) as (base, _), ThreadPoolExecutor(2) as pool:
        server.start()
        wait_ready(base)
        running = pool.submit(_post, base)  # in the model, held by the gate
        _wait_for(lambda: len(GatedModel.calls) == 1)
        queued = pool.submit(_post, base)
        _wait_for(lambda: server.deployments["scaler"].split.versions[2].batcher.queued == 1)
        time.sleep(0.3)  # the queued request has now waited past --max-queue-ms
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as client:
            client.sendall(  # the head of a request whose body never comes
                f"POST /v1/models/scaler:predict HTTP/1.1\r\nHost: {host}\r\n"
                "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n".encode()
            )
            head, _, body = _read_answer(client)
        assert head.startswith(b"HTTP/1.1 429") and b"retry-after: 1" in head.lower()
        assert "--max-queue-ms" in json.loads(body)["error"]
        GatedModel.gate.set()
        assert [running.result()[0], queued.result()[0]] == [200, 200]
        assert _post(base)[0] == 200  # the queue drained: requests are taken again


def _read_answer(client: socket.socket) -> tuple[bytes, bytes, bytes]:
    """(head, separator, body) of one HTTP answer with a Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = client.recv(65536)
        assert chunk, f"the server closed the connection after {data!r}"
        data += chunk
    head, separator, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        chunk = client.recv(65536)
        assert chunk, f"the server closed the connection after {len(body)} bytes of the body"
        body += chunk
    return head, separator, body


def test_sigterm_drains_health_turns_503_and_accepted_requests_finish(registry):
    server = _gated_server(registry)
    with serving_in_thread(PredictionApp(server), drain_s=20) as (base, uvicorn_server):
        server.start()
        wait_ready(base)
        with ThreadPoolExecutor(3) as pool:
            accepted = [pool.submit(_post, base) for _ in range(3)]
            _wait_for(lambda: server.admission.in_flight == 3)
            uvicorn_server.handle_exit(signal.SIGTERM, None)
            assert call(base, "/health") == (
                503,
                {"error": "Draining: the server is shutting down."},
            )
            status, headers, body = _post(base)
            assert (status, headers["retry-after"]) == (503, "1")
            assert "shutting down" in body["error"]
            assert not uvicorn_server.should_exit  # still waiting for those in flight
            GatedModel.gate.set()
            assert [f.result()[0] for f in accepted] == [200, 200, 200]  # none lost
        _wait_for(lambda: uvicorn_server.should_exit)
