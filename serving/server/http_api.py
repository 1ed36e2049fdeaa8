"""The HTTP routes: Vertex AI's custom-container contract and TF Serving's REST API.

    GET  <AIP_HEALTH_ROUTE>         200 once the models are loaded and warm, else 503;
                                    ("problems": the models whose registry is broken)
    POST <AIP_PREDICT_ROUTE>        {"instances": [...]} -> {"predictions", "deployedModelId"}
    GET  /v1/models/<name>[<which>]             version status (+ "registry_watch" on trouble)
    GET  /v1/models/<name>[<which>]/metadata    signature
    POST /v1/models/<name>[<which>]:predict     rows ("instances") or columns ("inputs")

<which> is /versions/<v> or /labels/<alias>; without it the traffic split chooses.

Every error is a JSON `{"error": "..."}` with a 4xx/5xx status; the server
never lets a request's failure reach the connection loop.
"""

from __future__ import annotations

import json
import logging
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import tensorflow as tf

from serving.server.model_server import ModelServer
from serving.server.request_format import (
    RequestError,
    columns,
    parse_json,
    parse_predict,
    predictions,
)

log = logging.getLogger(__name__)

TF_SERVING_PATH = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)"
    r"(?:/versions/(?P<version>[0-9]+)|/labels/(?P<label>[^/:]+))?"
    r"(?P<suffix>:predict|/metadata)?$"
)


class PredictionHTTPServer(ThreadingHTTPServer):
    """A thread per connection; a listen backlog deep enough for many clients connecting at once
    (the default of 5 drops connections, which clients retry only after a second)."""

    daemon_threads = True
    request_queue_size = 128


def handler_for(server: ModelServer) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to `server`."""

    class Handler(_Handler):
        model_server = server

    return Handler


class _Handler(BaseHTTPRequestHandler):
    model_server: ModelServer
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse connections
    # TCP_NODELAY: headers and body go out at once, not 40 ms apart (Nagle + delayed ACK).
    disable_nagle_algorithm = True
    timeout = 60  # seconds a connection may stay silent mid-request

    def do_GET(self) -> None:
        self._answer(self._get)

    def do_POST(self) -> None:
        self._answer(self._post)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _get(self) -> tuple[int, dict]:
        server, path = self.model_server, self.path.split("?")[0]
        if path == server.contract.health_route:
            return self._health()
        match = TF_SERVING_PATH.match(path)
        if not match or match["suffix"] == ":predict":
            raise RequestError(404 if not match else 405, f"No GET route {path}.")
        name, version, label = match["name"], match["version"] or "", match["label"] or ""
        if match["suffix"] == "/metadata":
            return 200, server.version_for(name, version, label).model.metadata_response()
        return 200, self._status(name, version, label)

    def _post(self) -> tuple[int, dict]:
        server, path = self.model_server, self.path.split("?")[0]
        body = self._read_body()  # first, so a refused request leaves the connection usable
        if path == server.contract.predict_route:
            if not server.vertex_model:
                raise RequestError(
                    400,
                    f"{path} serves one model, but this server serves several "
                    f"({', '.join(server.deployments)}): start it with --model NAME, or POST to "
                    "/v1/models/<name>:predict.",
                )
            served = server.version_for(server.vertex_model)
            request = parse_predict(parse_json(body), served.model.input, False)
            outputs = _predict(served, request.batch)
            return 200, {
                "predictions": predictions(outputs),
                "deployedModelId": server.deployed_model_id(served),
            }
        match = TF_SERVING_PATH.match(path)
        if not match or match["suffix"] != ":predict":
            raise RequestError(404 if not match else 405, f"No POST route {path}.")
        served = server.version_for(match["name"], match["version"] or "", match["label"] or "")
        request = parse_predict(parse_json(body), served.model.input, True)
        outputs = _predict(served, request.batch)
        if request.columnar:
            return 200, {"outputs": columns(outputs)}
        return 200, {"predictions": predictions(outputs)}

    def _read_body(self) -> bytes:
        """The request body; on any refusal the connection is closed, as its body is unread."""
        length = self.headers.get("Content-Length")
        if length is None or not (length.isascii() and length.isdigit()):
            self.close_connection = True
            if length is None:
                raise RequestError(411, "The request needs a Content-Length header.")
            raise RequestError(400, f"Content-Length {length!r} is not a number.")
        if len(length) > 18 or int(length) > self.model_server.max_body_bytes:
            self.close_connection = True
            raise RequestError(
                413,
                f"The request body is {length if len(length) <= 18 else 'over 10^18'} bytes; "
                "the limit is "
                f"{self.model_server.max_body_bytes} (--max-body-bytes): send fewer instances "
                "per request.",
            )
        try:
            body = self.rfile.read(int(length))
        except OSError:  # a socket timeout: the client stopped sending
            body = b""
        if len(body) != int(length):
            self.close_connection = True
            raise RequestError(400, f"The body ended after {len(body)} of {length} bytes.")
        return body

    def _health(self) -> tuple[int, dict]:
        """200 while the models serve (even the last good versions of a broken registry)."""
        server = self.model_server
        states = {name: d.state for name, d in server.deployments.items()}
        problems = server.problems()
        if not server.ready:
            loading = [name for name, state in states.items() if state == "loading"]
            if loading:
                raise RequestError(503, f"Not ready: loading {', '.join(loading)}.")
            failed = "; ".join(f"{n}: {p}" for n, p in problems.items() if states[n] == "failed")
            raise RequestError(503, f"Not ready: cannot serve {failed}")
        versions = {
            name: sorted(d.split.versions)
            for name, d in server.deployments.items()
            if d.split is not None
        }
        status = "degraded" if problems else "ready"
        return 200, {"status": status, "models": versions, "problems": problems}

    def _status(self, name: str, version: str, label: str) -> dict:
        deployment = self.model_server.deployment(name)
        watch = {"registry_watch": deployment.watch.snapshot()} if deployment.error else {}
        if deployment.split is None:
            state = "END" if deployment.error else "LOADING"
            code = "UNAVAILABLE" if deployment.error else "OK"
            status = {"error_code": code, "error_message": deployment.error}
            versions = [{"version": version or "0", "state": state, "status": status}]
            return {"model_version_status": versions, **watch}
        if version or label:
            versions = [self.model_server.version_for(name, version, label).model.version]
        else:
            versions = sorted(deployment.split.versions)
        available = [
            {
                "version": str(v),
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
            for v in versions
        ]
        return {"model_version_status": available, **watch}

    def _answer(self, route) -> None:
        try:
            status, body = route()
        except RequestError as exc:
            status, body = exc.status, {"error": str(exc)}
        except Exception as exc:  # a bug must not take the server down: log it, answer 500
            log.exception("Unexpected error on %s %s", self.command, self.path)
            status, body = 500, {"error": f"Internal error: {type(exc).__name__}: {exc}"}
            self.close_connection = True  # the request may not have been read to its end
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)


def _predict(served, batch) -> dict:
    try:
        return served.batcher.predict(batch)
    except tf.errors.InvalidArgumentError as exc:
        reason = exc.message.strip().splitlines()[0][:300]
        raise RequestError(
            400,
            f"{served.model.label} could not use the instances "
            f"({served.model.input.describe()}): {reason}",
        ) from None
