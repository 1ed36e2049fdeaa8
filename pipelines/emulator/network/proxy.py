"""A loopback CONNECT proxy that terminates TLS for Google API hosts and forwards to local servers.

Unmodified clients (requests, grpc, google-auth) reach it through `https_proxy`. For
`CONNECT host:443` it asks `routes(host)` for an Upstream, answers 200, performs the TLS handshake
itself with the emulator's certificate (ALPN offers h2 and http/1.1), and pipes the decrypted
bytes to the upstream that speaks the negotiated protocol: h2 to a plaintext gRPC server (HTTP/2
prior knowledge), http/1.1 to a plaintext HTTP server. Any other host is refused with 403: nothing
may leave the machine. Plain-HTTP proxy requests are refused with 405.

Each connection has one thread. TLS runs on memory buffers (ssl.SSLObject), so one thread drives
both directions without ever blocking on a socket, and a half-close on either side is passed on
(TLS close_notify <-> TCP shutdown) while the other direction keeps flowing (relay.py).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pipelines.emulator.network.relay import CHUNK, MemoryTls, Relay
from pipelines.emulator.network.tls import Certificates

_LOG = logging.getLogger(__name__)

_HEADER_LIMIT = 16 * 1024
_HANDSHAKE_TIMEOUT_S = 10
_CONNECT_TIMEOUT_S = 5
_NOT_SERVED = (
    "the emulator serves only the Google API hosts it routes; nothing may leave this machine"
)


@dataclass(frozen=True)
class Upstream:
    """Where one host's traffic goes: (host, port) of a plaintext server per protocol."""

    http1: tuple[str, int] | None = None
    h2: tuple[str, int] | None = None


Routes = Callable[[str], Upstream | None]


class ConnectProxy:
    """The proxy; `start()` returns its port on 127.0.0.1, `stop()` closes every connection."""

    def __init__(self, certificates: Certificates, routes: Routes) -> None:
        self._certificates = certificates
        self._routes = routes
        self._contexts: dict[tuple[str, ...], ssl.SSLContext] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def start(self) -> int:
        if self._server is not None:
            raise RuntimeError("the proxy is already running")
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.proxy = self
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="emulator-proxy",
            daemon=True,
        )
        self._thread.start()
        return self._server.server_address[1]

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        with self._lock:
            for sock in self._sockets:
                # Wakes the connection's thread, wherever it waits; it then closes the socket.
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        self._server.server_close()  # joins the connection threads
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> int:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def serve(self, client: socket.socket) -> None:
        """Handle one accepted connection, from the CONNECT line to the last byte."""
        self._track(client)
        try:
            self._serve(client)
        except OSError as error:  # ssl.SSLError included: a client gone, a bad handshake
            _LOG.debug("proxy connection ended: %s", error)
        except Exception:
            _LOG.exception("proxy connection failed")
        finally:
            self._untrack(client)

    def _serve(self, client: socket.socket) -> None:
        client.settimeout(_HANDSHAKE_TIMEOUT_S)
        request = _read_request_head(client)
        if request is None:
            return
        head, early_data = request
        target = _connect_target(head, client)
        if target is None:
            return
        host, port = target
        upstream = self._routes(host) if port == 443 else None
        protocols = _protocols(upstream)
        if not protocols:
            reason = f"{host}:{port} is not served by the Vertex AI emulator"
            _LOG.warning("proxy refused CONNECT %s:%s: %s", host, port, _NOT_SERVED)
            _send_response(client, 403, reason, f"{reason}; {_NOT_SERVED}")
            return
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        tls = MemoryTls(self._context(protocols), early_data)
        tls.handshake(client)
        protocol = tls.protocol or "http/1.1"
        address = upstream.h2 if protocol == "h2" else upstream.http1
        if address is None:
            _LOG.warning("proxy: %s negotiated %s, which it does not serve", host, protocol)
            return
        try:
            server = socket.create_connection(address, timeout=_CONNECT_TIMEOUT_S)
        except OSError as error:
            _LOG.warning("proxy: upstream %s for %s refused: %s", address, host, error)
            if protocol == "http/1.1":
                message = f"the emulator's server for {host} at {address} is down: {error}"
                tls.send_all(client, _response(502, "Bad Gateway", message))
            return
        _LOG.debug("proxy: %s over %s to %s", host, protocol, address)
        self._track(server)
        try:
            Relay(client, server, tls, self._stopping).run()
        finally:
            self._untrack(server)
            server.close()

    def _context(self, protocols: tuple[str, ...]) -> ssl.SSLContext:
        with self._lock:
            if protocols not in self._contexts:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(self._certificates.cert_path, self._certificates.key_path)
                context.set_alpn_protocols(list(protocols))
                self._contexts[protocols] = context
            return self._contexts[protocols]

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)
        if self._stopping.is_set():
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)


@contextlib.contextmanager
def running_proxy(certificates: Certificates, routes: Routes) -> Iterator[int]:
    """Run a ConnectProxy for the block; yields its port on 127.0.0.1."""
    proxy = ConnectProxy(certificates, routes)
    port = proxy.start()
    try:
        yield port
    finally:
        proxy.stop()


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = False  # server_close() joins them
    block_on_close = True
    proxy: ConnectProxy


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        self.server.proxy.serve(self.request)


def _protocols(upstream: Upstream | None) -> tuple[str, ...]:
    """ALPN protocols to offer, in preference order: only those the upstream serves."""
    if upstream is None:
        return ()
    return tuple(
        name for name, address in (("h2", upstream.h2), ("http/1.1", upstream.http1)) if address
    )


def _read_request_head(client: socket.socket) -> tuple[bytes, bytes] | None:
    """The request head up to the blank line, and any bytes the client sent after it."""
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        if len(buffer) > _HEADER_LIMIT:
            _send_response(client, 431, "Request Header Fields Too Large", "request head too long")
            return None
        chunk = client.recv(CHUNK)
        if not chunk:
            return None
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    return head, rest


def _connect_target(head: bytes, client: socket.socket) -> tuple[str, int] | None:
    """Host and port of a `CONNECT host:port HTTP/1.x` line; answers and returns None otherwise."""
    line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        _send_response(client, 400, "Bad Request", f"not an HTTP/1.x request line: {line!r}")
        return None
    method, target, _version = parts
    if method != "CONNECT":
        reason = f"{method} {target}: the Vertex AI emulator proxy only tunnels HTTPS (CONNECT)"
        _send_response(client, 405, "Method Not Allowed", reason, allow="CONNECT")
        return None
    host, _, port = target.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not host or not port.isdigit():
        _send_response(client, 400, "Bad Request", f"CONNECT needs host:port, got {target!r}")
        return None
    return host.lower(), int(port)


def _response(status: int, reason: str, body: str, allow: str | None = None) -> bytes:
    payload = (body + "\n").encode()
    headers = [
        f"HTTP/1.1 {status} {reason}",
        "Content-Type: text/plain; charset=utf-8",
        f"Content-Length: {len(payload)}",
        "Connection: close",
    ]
    if allow:
        headers.append(f"Allow: {allow}")
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + payload


def _send_response(
    client: socket.socket, status: int, reason: str, body: str, allow: str | None = None
) -> None:
    # The reason phrase carries the message too: clients show it, most never show the body.
    client.sendall(_response(status, reason, body, allow))
