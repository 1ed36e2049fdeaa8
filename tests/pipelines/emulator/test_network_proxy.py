"""The emulator's network layer: certificates, the TLS-terminating proxy, metadata, client env.

Clients are the real ones (google-auth, requests, the aiplatform gRPC client) running in child
processes whose environment comes from `client_environment`, so this process's own environment is
untouched. The upstreams behind the proxy are tiny local servers the tests start: a plaintext
gRPC server with a JobService.GetCustomJob handler and an HTTP server that echoes what it got.
"""

from __future__ import annotations

import contextlib
import datetime
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc
import pytest
from google.cloud import aiplatform_v1

from pipelines.emulator.network import tls
from pipelines.emulator.network.client_env import CLEARED_VARIABLES, apply, client_environment
from pipelines.emulator.network.metadata_server import running_metadata_server
from pipelines.emulator.network.proxy import ConnectProxy, Upstream, running_proxy
from pipelines.emulator.network.tls import Certificates, make_certificates

REPO = Path(__file__).resolve().parents[3]
PROJECT = "emulator-project"
SERVICE_ACCOUNT = f"pipelines@{PROJECT}.iam.gserviceaccount.com"
API_HOST = "us-central1-aiplatform.googleapis.com"
CHILD_TIMEOUT_S = 60
SOCKET_TIMEOUT_S = 10


# ---------------------------------------------------------------- upstreams behind the proxy


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


@pytest.fixture(scope="module")
def http_upstream() -> Iterator[tuple[str, int]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    yield server.server_address
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def grpc_upstream() -> Iterator[tuple[tuple[str, int], list[dict[str, str]]]]:
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


# ---------------------------------------------------------------- the emulator's side


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def proxy_port(certificates, http_upstream, grpc_upstream) -> Iterator[int]:
    upstream = Upstream(http1=http_upstream, h2=grpc_upstream[0])
    with running_proxy(certificates, lambda host: _googleapis(host, upstream)) as port:
        yield port


def _googleapis(host: str, upstream: Upstream) -> Upstream | None:
    return upstream if host.endswith(".googleapis.com") else None


@pytest.fixture(scope="module")
def metadata_host() -> Iterator[str]:
    with running_metadata_server(PROJECT, SERVICE_ACCOUNT) as host:
        yield host


@pytest.fixture
def child_env(proxy_port, metadata_host, certificates, tmp_path) -> dict[str, str]:
    """This process's environment made into a client's; a stale key file in it must not win."""
    parent = dict(os.environ, GOOGLE_APPLICATION_CREDENTIALS=str(tmp_path / "missing-key.json"))
    overrides = client_environment(proxy_port, metadata_host, certificates, PROJECT, tmp_path)
    return apply(parent, overrides)


def _run_child(code: str, env: dict[str, str]) -> dict:
    """Run `code` in a fresh interpreter; it prints one JSON line, which is returned."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- real clients in a child


def test_google_auth_default_gets_compute_engine_credentials_from_the_metadata_server(child_env):
    child = _run_child(
        """
import json, google.auth, google.auth.transport.requests
credentials, project = google.auth.default()
credentials.refresh(google.auth.transport.requests.Request())
print(json.dumps({"class": type(credentials).__module__ + "." + type(credentials).__name__,
                  "token": credentials.token, "project": project,
                  "email": credentials.service_account_email,
                  "universe": credentials.universe_domain}))
""",
        child_env,
    )
    assert child == {
        "class": "google.auth.compute_engine.credentials.Credentials",
        "token": "emulator-token",
        "project": PROJECT,
        "email": SERVICE_ACCOUNT,
        "universe": "googleapis.com",
    }


def test_aiplatform_job_service_client_reaches_a_local_grpc_server_over_tls(
    child_env, grpc_upstream
):
    _address, calls = grpc_upstream
    calls.clear()
    name = f"projects/{PROJECT}/locations/us-central1/customJobs/42"
    # The client is built exactly as GCPC's job_remote_runner builds it.
    child = _run_child(
        f"""
import json
from google.api_core import client_options
from google.cloud import aiplatform_v1
options = client_options.ClientOptions(api_endpoint="us-central1" + "-aiplatform.googleapis.com")
client = aiplatform_v1.JobServiceClient(client_options=options)
job = client.get_custom_job(name={name!r}, timeout=20)
print(json.dumps({{"name": job.name, "display_name": job.display_name,
                  "state": job.state.name}}))
""",
        child_env,
    )
    assert child == {
        "name": name,
        "display_name": "from-the-test-server",
        "state": "JOB_STATE_SUCCEEDED",
    }
    assert len(calls) == 1
    assert calls[0]["authorization"] == "Bearer emulator-token"


def test_requests_reaches_the_http_server_and_unknown_hosts_are_refused(child_env):
    child = _run_child(
        f"""
import json, requests
answer = requests.get("https://{API_HOST}/v1/x?y=1", timeout=20).json()
try:
    requests.get("https://example.com/", timeout=20)
    refused = None
except requests.exceptions.ProxyError as error:
    refused = str(error)
print(json.dumps({{"answer": answer, "refused": refused}}))
""",
        child_env,
    )
    assert child["answer"] == {"host": API_HOST, "path": "/v1/x?y=1"}
    assert child["refused"] is not None
    assert "403" in child["refused"]
    assert "example.com:443 is not served by the Vertex AI emulator" in child["refused"]


# ---------------------------------------------------------------- the proxy, byte by byte


def _raw_request(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_S) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


@pytest.mark.parametrize(
    ("request_bytes", "status", "names"),
    [
        (b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 403, "example.com"),
        (b"CONNECT " + API_HOST.encode() + b":8443 HTTP/1.1\r\n\r\n", 403, f"{API_HOST}:8443"),
        (b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n", 405, "CONNECT"),
        (b"CONNECT nonsense HTTP/1.1\r\n\r\n", 400, "host:port"),
        (b"hello\r\n\r\n", 400, "hello"),
    ],
)
def test_the_proxy_refuses_what_it_does_not_tunnel(proxy_port, request_bytes, status, names):
    response = _raw_request(proxy_port, request_bytes)
    status_line, _, body = response.partition(b"\r\n")
    assert status_line.startswith(f"HTTP/1.1 {status} ".encode())
    assert names in body.decode()


def _tunnel(port: int, host: str, certificates: Certificates, alpn: str) -> ssl.SSLSocket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_S)
    sock.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
    assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
    context = ssl.create_default_context(cafile=certificates.ca_path)
    context.set_alpn_protocols([alpn])
    return context.wrap_socket(sock, server_hostname=host)


class _TlsClient:
    """A TLS client on memory buffers, so that it can send close_notify and keep reading."""

    def __init__(self, sock: socket.socket, certificates: Certificates, host: str) -> None:
        self.sock = sock
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        context = ssl.create_default_context(cafile=certificates.ca_path)
        self.object = context.wrap_bio(self.incoming, self.outgoing, server_hostname=host)
        self._until_done(self.object.do_handshake)

    def _until_done(self, operation) -> object:
        while True:
            try:
                result = operation()
                self.sock.sendall(self.outgoing.read())
                return result
            except ssl.SSLWantReadError:
                self.sock.sendall(self.outgoing.read())
                chunk = self.sock.recv(65536)
                if chunk:
                    self.incoming.write(chunk)
                else:
                    self.incoming.write_eof()

    def send(self, data: bytes) -> None:
        self.object.write(data)
        self.sock.sendall(self.outgoing.read())

    def close_write(self) -> None:
        with contextlib.suppress(ssl.SSLWantReadError):
            self.object.unwrap()
        self.sock.sendall(self.outgoing.read())

    def read_all(self) -> bytes:
        received = b""
        while True:
            try:
                chunk = self._until_done(lambda: self.object.read(65536))
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return received
            if not chunk:
                return received
            received += chunk


@pytest.fixture
def raw_upstream() -> Iterator[tuple[tuple[str, int], dict[str, bytes]]]:
    """One-connection TCP server: reads to EOF, then answers with what it read, then closes."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen: dict[str, bytes] = {}

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.settimeout(SOCKET_TIMEOUT_S)
            received = b""
            while chunk := connection.recv(65536):
                received += chunk
            seen["request"] = received
            connection.sendall(b"after your EOF: " + received)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname(), seen
    listener.close()
    thread.join(timeout=SOCKET_TIMEOUT_S)


def test_a_client_half_close_reaches_the_upstream_and_its_answer_still_comes_back(
    certificates, raw_upstream
):
    address, seen = raw_upstream
    with running_proxy(certificates, lambda host: Upstream(http1=address)) as port:
        sock = socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_S)
        with sock:
            sock.sendall(f"CONNECT {API_HOST}:443 HTTP/1.1\r\n\r\n".encode())
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
            client = _TlsClient(sock, certificates, API_HOST)
            client.send(b"ping")
            client.close_write()
            assert client.read_all() == b"after your EOF: ping"
    assert seen["request"] == b"ping"


def test_an_upstream_half_close_reaches_the_client_which_can_still_send(certificates):
    listener = socket.create_server(("127.0.0.1", 0))
    seen: dict[str, bytes] = {}

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.settimeout(SOCKET_TIMEOUT_S)
            connection.sendall(b"hello")
            connection.shutdown(socket.SHUT_WR)
            received = b""
            while chunk := connection.recv(65536):
                received += chunk
            seen["request"] = received

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    address = listener.getsockname()
    with (
        listener,
        running_proxy(certificates, lambda host: Upstream(http1=address)) as port,
        _tunnel(port, API_HOST, certificates, "http/1.1") as client,
    ):
        assert client.recv(100) == b"hello"
        assert client.recv(100) == b""  # close_notify
        client.sendall(b"late data")
        client.unwrap()
        thread.join(timeout=SOCKET_TIMEOUT_S)
    assert seen["request"] == b"late data"


def test_many_concurrent_tunnels_are_served_at_once(proxy_port, certificates):
    count = 24
    context = ssl.create_default_context(cafile=certificates.ca_path)
    connections = []
    for _ in range(count):
        connection = http.client.HTTPSConnection(
            "127.0.0.1", proxy_port, timeout=SOCKET_TIMEOUT_S, context=context
        )
        connection.set_tunnel(API_HOST, 443)
        connection.connect()  # every tunnel is open before any request is made
        connections.append(connection)
    barrier = threading.Barrier(count, timeout=SOCKET_TIMEOUT_S)

    def ask(index: int) -> dict:
        barrier.wait()
        connections[index].request("GET", f"/v1/request-{index}")
        return json.loads(connections[index].getresponse().read())

    with futures.ThreadPoolExecutor(max_workers=count) as pool:
        answers = list(pool.map(ask, range(count)))
    for connection in connections:
        connection.close()
    assert answers == [{"host": API_HOST, "path": f"/v1/request-{i}"} for i in range(count)]


def test_a_down_upstream_gets_a_502_naming_it(certificates):
    with socket.create_server(("127.0.0.1", 0)) as placeholder:
        address = placeholder.getsockname()  # closed below: nothing listens there any more
    with (
        running_proxy(certificates, lambda host: Upstream(http1=address)) as port,
        _tunnel(port, API_HOST, certificates, "http/1.1") as client,
    ):
        client.sendall(f"GET / HTTP/1.1\r\nHost: {API_HOST}\r\n\r\n".encode())
        response = client.recv(65536)
    assert response.startswith(b"HTTP/1.1 502 ")
    assert f"{API_HOST} at {address}".encode() in response


def test_stop_closes_open_tunnels(certificates, http_upstream):
    """stop() closes a tunnel a client keeps open, rather than waiting for the client."""
    proxy = ConnectProxy(certificates, lambda host: Upstream(http1=http_upstream))
    port = proxy.start()
    client = _tunnel(port, API_HOST, certificates, "http/1.1")
    stopper = threading.Thread(target=proxy.stop)
    stopper.start()
    stopper.join(timeout=60)  # a hang guard, not a speed target
    assert not stopper.is_alive(), "stop() waited for a client that never hangs up"
    with client:
        assert client.recv(100) == b""
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


# ---------------------------------------------------------------- the metadata server


def _metadata(host: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], str]:
    connection = http.client.HTTPConnection(host, timeout=SOCKET_TIMEOUT_S)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.headers), response.read().decode()
    finally:
        connection.close()


def test_the_metadata_server_requires_the_flavor_header(metadata_host):
    path = "/computeMetadata/v1/instance/service-accounts/default/token"
    status, headers, body = _metadata(metadata_host, path, {})
    assert (status, headers["Metadata-Flavor"]) == (403, "Google")
    assert "Metadata-Flavor" in body
    assert _metadata(metadata_host, path, {"Metadata-Flavor": "Amazon"})[0] == 403
    status, _, body = _metadata(metadata_host, path, {"Metadata-Flavor": "Google"})
    assert status == 200
    assert json.loads(body) == {
        "access_token": "emulator-token",
        "expires_in": 3600,
        "token_type": "Bearer",
    }


def test_the_metadata_server_answers_like_the_real_one(metadata_host):
    flavor = {"Metadata-Flavor": "Google"}
    status, headers, _ = _metadata(metadata_host, "/", flavor)
    assert (status, headers["Metadata-Flavor"]) == (200, "Google")
    root = "/computeMetadata/v1/"
    _, headers, body = _metadata(
        metadata_host, f"{root}instance/service-accounts/default/?recursive=true", flavor
    )
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["email"] == SERVICE_ACCOUNT
    assert _metadata(metadata_host, f"{root}project/project-id", flavor)[2] == PROJECT
    assert _metadata(metadata_host, f"{root}instance/service-accounts/x@y/", flavor)[0] == 404
    assert _metadata(metadata_host, "/elsewhere", flavor)[0] == 404


# ---------------------------------------------------------------- certificates and environment


def test_certificates_are_reused_while_valid_and_remade_when_not(tmp_path, monkeypatch):
    first = make_certificates(tmp_path)
    assert first.key_path.stat().st_mode & 0o777 == 0o600
    pem = first.cert_path.read_bytes()
    assert make_certificates(tmp_path).cert_path.read_bytes() == pem

    first.ca_path.write_text("not a certificate")
    assert make_certificates(tmp_path).cert_path.read_bytes() != pem

    pem = first.cert_path.read_bytes()
    first.key_path.chmod(0o644)  # a readable key is not reused
    assert make_certificates(tmp_path).cert_path.read_bytes() != pem

    first.cert_path.unlink()
    monkeypatch.setattr(tls, "_VALIDITY", datetime.timedelta(hours=2))  # inside renewal margin
    pem = make_certificates(tmp_path).cert_path.read_bytes()
    assert make_certificates(tmp_path).cert_path.read_bytes() != pem


@pytest.mark.parametrize(
    ("host", "valid"),
    [
        (API_HOST, True),
        ("googleapis.com", True),
        ("example.com", False),
        ("a.b.googleapis.com", False),
    ],
)
def test_the_server_certificate_verifies_for_googleapis_hosts_only(certificates, host, valid):
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(certificates.cert_path, certificates.key_path)
    client = ssl.create_default_context(cafile=certificates.ca_path)
    server_side, client_side = socket.socketpair()
    with server_side, client_side:
        server_side.settimeout(SOCKET_TIMEOUT_S)
        accept = threading.Thread(target=_accept_tls, args=(server, server_side), daemon=True)
        accept.start()
        if valid:
            client.wrap_socket(client_side, server_hostname=host).close()
        else:
            with pytest.raises(ssl.SSLCertVerificationError):
                client.wrap_socket(client_side, server_hostname=host)
        client_side.close()
        accept.join(timeout=SOCKET_TIMEOUT_S)


def _accept_tls(context: ssl.SSLContext, sock: socket.socket) -> None:
    with contextlib.suppress(OSError, ssl.SSLError):  # the client may refuse the certificate
        context.wrap_socket(sock, server_side=True).close()


def test_apply_removes_cleared_variables_and_sets_the_overrides(tmp_path, certificates):
    parent = {"GOOGLE_APPLICATION_CREDENTIALS": "/key.json", "grpc_proxy": "x", "PATH": "/bin"}
    overrides = client_environment(1234, "127.0.0.1:5678", certificates, PROJECT, tmp_path)
    env = apply(parent, overrides)
    assert set(CLEARED_VARIABLES).isdisjoint(env)
    assert env["PATH"] == "/bin"
    assert env["https_proxy"] == "http://127.0.0.1:1234"
    assert env["GCE_METADATA_HOST"] == env["GCE_METADATA_IP"] == "127.0.0.1:5678"
    assert env["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"] == str(certificates.ca_path)
    assert "127.0.0.1" in env["no_proxy"].split(",")
    gcloud = Path(env["CLOUDSDK_CONFIG"])
    assert gcloud.is_dir() and gcloud.is_relative_to(tmp_path) and not any(gcloud.iterdir())
    assert parent["GOOGLE_APPLICATION_CREDENTIALS"] == "/key.json"  # the input is not changed
