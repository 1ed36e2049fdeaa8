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

from serving.server.admission import Admission
from serving.server.http_api import PredictionApp
from serving.server.http_protocol import JsonErrorsProtocol
from serving.server.sockets import listen

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
