"""The REST face of the emulated APIs: HTTP/1.1 JSON, transcoded to the Rpc handlers.

The GCPC launchers and the aiplatform SDK's REST transport call Vertex AI over
HTTP/JSON; this server answers them from the same table of handlers as the gRPC
server, with Google's JSON error shape and Google's HTTP status for each gRPC code.
`extra_routes` mounts other REST APIs (BigQuery's /bigquery/v2/...) on the same port.
No installed Google client compresses its requests, but Google's front ends accept a
gzip body, and so does this one.
"""

from __future__ import annotations

import gzip
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import grpc

from pipelines.emulator.rpc.rpc import ApiError, Rpc, to_json
from pipelines.emulator.rpc.transcode import Route, Router, build_request

logger = logging.getLogger(__name__)

Response = tuple[int, dict[str, str], bytes]
# (method, raw path, query, headers, body) -> a response, or None to fall through.
ExtraRoutes = Callable[[str, str, dict[str, list[str]], Message, bytes], Response | None]
RequestHook = Callable[[str, Rpc, Any], None]

# The HTTP status Google's front ends give each gRPC code (google/rpc/code.proto).
HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}
_JSON = {"Content-Type": "application/json; charset=UTF-8"}


def error_response(code: grpc.StatusCode, message: str) -> Response:
    """Google's JSON error: {"error": {"code": <http status>, "message", "status"}}."""
    status = HTTP_STATUS[code]
    error = {"error": {"code": status, "message": message, "status": code.name}}
    return status, dict(_JSON), json.dumps(error, indent=2).encode()


def _call(
    route: Route,
    path_values: dict[str, str],
    query: dict[str, list[str]],
    body: bytes,
    on_request: RequestHook | None,
) -> Response:
    rpc = route.rpc
    try:
        request = build_request(route, path_values, query, body)
        if on_request is not None:
            on_request("rest", rpc, request)
        response = rpc.handler(request)
        integer_enums = "enum-encoding=int" in query.get("$alt", [""])[0]
        text = to_json(rpc.response_type, response, integer_enums=integer_enums)
    except ApiError as exc:
        return error_response(exc.code, exc.message)
    except Exception as exc:
        logger.exception(
            "REST %s %s (%s/%s) failed", route.http_method, route.uri, rpc.service, rpc.method
        )
        return error_response(grpc.StatusCode.INTERNAL, f"{type(exc).__name__}: {exc}")
    return 200, dict(_JSON), text.encode()


class _GatewayServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        port: int,
        router: Router,
        extra_routes: ExtraRoutes | None,
        on_request: RequestHook | None,
    ) -> None:
        super().__init__(("127.0.0.1", port), _GatewayHandler)
        self.router = router
        self.extra_routes = extra_routes
        self.on_request = on_request


class _GatewayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response carries Content-Length
    timeout = 300  # seconds a connection may sit idle (or stall mid-request) before it is closed
    server: _GatewayServer

    def do_GET(self) -> None:
        try:
            body = self._read_body()
        except ApiError as exc:
            self.close_connection = True  # the rest of the stream cannot be trusted
            self._send(error_response(exc.code, exc.message))
            return
        self._send(self._respond(body))

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _respond(self, body: bytes) -> Response:
        target = urlsplit(self.path)  # origin form, or absolute form from a plain proxy
        query = parse_qs(target.query, keep_blank_values=True)
        if self.server.extra_routes is not None:
            try:
                answer = self.server.extra_routes(
                    self.command, target.path, query, self.headers, body
                )
            except ApiError as error:
                return error_response(error.code, error.message)
            except Exception as exc:
                logger.exception("REST %s %s failed in extra routes", self.command, target.path)
                return error_response(grpc.StatusCode.INTERNAL, f"{type(exc).__name__}: {exc}")
            if answer is not None:
                return answer
        found = self.server.router.match(self.command, target.path)
        if found is None:
            message = f"Method {self.command} {target.path} is not found (no such REST route)."
            return error_response(grpc.StatusCode.NOT_FOUND, message)
        route, path_values = found
        return _call(route, path_values, query, body, self.server.on_request)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = self._read_chunks()
        else:
            length = self.headers.get("Content-Length", "0")
            if not length.isdigit():
                raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, f"Bad Content-Length {length!r}")
            data = self.rfile.read(int(length))
        encoding = self.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding == "gzip":
            try:
                return gzip.decompress(data)
            except (OSError, EOFError) as exc:
                raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, f"Bad gzip body: {exc}") from exc
        if encoding not in ("identity", ""):
            raise ApiError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Unsupported Content-Encoding {encoding!r} (gzip or identity)",
            )
        return data

    def _read_chunks(self) -> bytes:
        chunks = []
        while True:
            size_line = self.rfile.readline(1024).split(b";")[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError as exc:
                raise ApiError(
                    grpc.StatusCode.INVALID_ARGUMENT, f"Bad chunk size {size_line!r}"
                ) from exc
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)  # the CRLF after each chunk

    def _send(self, response: Response) -> None:
        status, headers, payload = response
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("REST %s " + format, self.address_string(), *args)


@contextmanager
def running_rest_gateway(
    rpcs: Iterable[Rpc],
    extra_routes: ExtraRoutes | None = None,
    port: int = 0,
    on_request: RequestHook | None = None,
) -> Iterator[int]:
    """Serve `rpcs` over REST on 127.0.0.1 (`port` 0 picks a free one); yields the port.

    `extra_routes` is tried first on every call; `on_request("rest", rpc, request)` sees
    each transcoded request before its handler does.
    """
    server = _GatewayServer(port, Router(rpcs), extra_routes, on_request)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.1},
        name="emulator-rest",
        daemon=True,
    )
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
