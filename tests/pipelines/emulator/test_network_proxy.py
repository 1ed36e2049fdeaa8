"""The emulator's TLS-terminating CONNECT proxy, byte by byte: refusals, half-closes, tunnels.

The clients are raw sockets and ssl; the upstreams are the test servers (network_upstreams.py)
and one-connection TCP servers started here.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from concurrent import futures

import pytest

from pipelines.emulator.network.proxy import ConnectProxy, Upstream, running_proxy
from pipelines.emulator.network.tls import Certificates
from tests.pipelines.emulator.network_upstreams import API_HOST, SOCKET_TIMEOUT_S


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
