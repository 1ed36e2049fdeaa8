"""The servers the network tests put behind the emulator's proxy, and the names they use.

Tiny local servers: a plaintext gRPC server with a JobService.GetCustomJob
handler, and an HTTP server that echoes the host and path it got. The fixtures
that run them are in conftest.py.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
from google.cloud import aiplatform_v1

from pipelines.emulator.network.proxy import Upstream

PROJECT = "emulator-project"
SERVICE_ACCOUNT = f"pipelines@{PROJECT}.iam.gserviceaccount.com"
API_HOST = "us-central1-aiplatform.googleapis.com"
SOCKET_TIMEOUT_S = 10


class _EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        payload = json.dumps({"host": self.headers["Host"], "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def running_echo_server() -> Iterator[tuple[str, int]]:
    """The HTTP server that answers {"host": ..., "path": ...}; yields its address."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    yield server.server_address
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@contextlib.contextmanager
def running_job_server() -> Iterator[tuple[tuple[str, int], list[dict[str, str]]]]:
    """A plaintext gRPC server; yields its address and the metadata of each call it got."""
    calls: list[dict[str, str]] = []

    def get_custom_job(request: aiplatform_v1.GetCustomJobRequest, context) -> object:
        calls.append(dict(context.invocation_metadata()))
        return aiplatform_v1.CustomJob(
            name=request.name,
            display_name="from-the-test-server",
            state=aiplatform_v1.JobState.JOB_STATE_SUCCEEDED,
        )

    handler = grpc.method_handlers_generic_handler(
        "google.cloud.aiplatform.v1.JobService",
        {
            "GetCustomJob": grpc.unary_unary_rpc_method_handler(
                get_custom_job,
                request_deserializer=aiplatform_v1.GetCustomJobRequest.deserialize,
                response_serializer=aiplatform_v1.CustomJob.serialize,
            )
        },
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield ("127.0.0.1", port), calls
    server.stop(grace=None)


def googleapis(host: str, upstream: Upstream) -> Upstream | None:
    """The proxy's routes for the tests: every *.googleapis.com host to `upstream`."""
    return upstream if host.endswith(".googleapis.com") else None
