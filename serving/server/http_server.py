"""The prediction app on uvicorn, with a graceful drain on SIGTERM.

uvicorn (httptools parser, uvloop) was chosen over the standard library's
ThreadingHTTPServer, which starts a thread per connection without limit, and
over Starlette routing, which cost 15-20 % of throughput on a small JSON route
here (docs/serving.md has the figures).

On SIGTERM (Vertex AI sends it on undeploy and scale-down) the server does not
stop at once: /health and every new request answer 503, the requests in flight
finish, for at most `drain_s`; then uvicorn closes the listener and the
connections, and the process exits. A second SIGTERM or Ctrl-C stops it at once.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Iterator

import uvicorn

from serving.contracts.errors import InputError
from serving.server.admission import Admission
from serving.server.http_api import PredictionApp
from serving.server.http_protocol import JsonErrorsProtocol

log = logging.getLogger(__name__)

KEEP_ALIVE_S = 75  # longer than Vertex AI's and Google's load balancers keep idle connections


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, admission: Admission, drain_s: float) -> None:
        super().__init__(config)
        self.admission, self.drain_s = admission, drain_s

    def handle_exit(self, sig: int, frame: object) -> None:
        if self.admission.draining:  # asked twice: stop now
            self.force_exit = self.should_exit = True
            return
        log.info(
            "Draining: %d requests in flight, %g s at most", self.admission.in_flight, self.drain_s
        )
        self.admission.begin_drain()
        threading.Thread(target=self._drain, name="drain", daemon=True).start()

    def _drain(self) -> None:
        finished = self.admission.wait_idle(self.drain_s)
        if not finished:
            log.warning(
                "Drain: %d requests still in flight after %g s; stopping",
                self.admission.in_flight,
                self.drain_s,
            )
        self.should_exit = True


def uvicorn_config(app: PredictionApp) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        http=JsonErrorsProtocol,
        loop="uvloop",
        lifespan="off",
        access_log=False,  # the app writes its own, as JSON (access_log.py)
        log_config=None,  # logging is the project's (serving.contracts.logs)
        server_header=False,
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=5,
    )


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (0: a free port), with a deep backlog."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def reserve_port(host: str, port: int) -> socket.socket:
    """Hold `port` for workers that bind it with SO_REUSEPORT (gRPC): an InputError when
    another process holds it, rather than workers that silently fail to listen."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InputError(
            f"cannot listen on {host}:{port} for gRPC ({exc.strerror}): pass another "
            "--grpc-port, or 0 to turn gRPC off."
        ) from None
    return sock


def serve(app: PredictionApp, sock: socket.socket, drain_s: float) -> None:
    """Serve on `sock` until SIGTERM or Ctrl-C has drained the server (main thread)."""
    DrainingServer(uvicorn_config(app), app.server.admission, drain_s).run(sockets=[sock])


@contextlib.contextmanager
def serving_in_thread(
    app: PredictionApp, drain_s: float = 5.0
) -> Iterator[tuple[str, DrainingServer]]:
    """Serve `app` on a free 127.0.0.1 port in a thread; yield (base URL, server)."""
    sock = listen("127.0.0.1", 0)
    server = DrainingServer(uvicorn_config(app), app.server.admission, drain_s)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", server
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
