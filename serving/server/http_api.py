"""The HTTP routes, as an ASGI app: Vertex AI's custom-container contract and TF Serving's REST API.

    GET  <AIP_HEALTH_ROUTE>         200 once the models are loaded and warm, else 503;
                                    ("problems": the models whose registry is broken);
                                    503 once a drain began (SIGTERM)
    POST <AIP_PREDICT_ROUTE>        {"instances": [...]} -> {"predictions", "deployedModelId"}
    GET  /v1/models/<name>[<which>]             version status (+ "registry_watch" on trouble)
    GET  /v1/models/<name>[<which>]/metadata    signature
    POST /v1/models/<name>[<which>]:predict     rows ("instances") or columns ("inputs")
    GET  /metrics                   Prometheus text format

<which> is /versions/<v> or /labels/<alias>; without it the traffic split chooses.

Every error is a JSON `{"error": "..."}` with a 4xx/5xx status (429 and 503
with Retry-After); the app never lets a request's failure reach uvicorn. A
predict request is admitted (admission.py) and by its model's batcher
(refused at once while the model's queue is full or slow), its body read
within limits (http_body.py), parsed, checked (request_limits.py) and queued
for the batcher with the request's deadline; if the client goes away first,
its instances are taken off the queue.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from dataclasses import dataclass

import tensorflow as tf

from serving.server import metrics
from serving.server.access_log import AccessLog
from serving.server.http_body import ClientGone, declared_length, read_body
from serving.server.model_server import ModelServer
from serving.server.request_format import (
    RequestError,
    columns,
    parse_json,
    parse_predict,
    predictions,
)
from serving.server.request_limits import check_batch, check_response_size
from serving.server.request_log import RequestLog
from serving.server.status_routes import health, version_status

log = logging.getLogger(__name__)

TF_SERVING_PATH = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)"
    r"(?:/versions/(?P<version>[0-9]+)|/labels/(?P<label>[^/:]+))?"
    r"(?P<suffix>:predict|/metadata)?$"
)
METRICS_ROUTE = "/metrics"
OFFLOAD_BYTES = 256 * 2**10  # larger bodies are parsed and answered off the event loop
OFFLOAD_INSTANCES = 256  # so are answers to more instances
JSON = "application/json"
RETRY_AFTER = {429: b"1", 503: b"1"}


@dataclass
class Exchange:
    """One request as the access log and metrics see it."""

    method: str
    path: str
    route: str = "other"
    model: str = ""
    version: str = ""
    close: bool = False
    request_bytes: int = 0


class PredictionApp:
    """The ASGI app serving `server`; `request_timeout_s` is each request's deadline."""

    def __init__(
        self,
        server: ModelServer,
        request_timeout_s: float = 30.0,
        access_log: AccessLog | None = None,
        request_log: RequestLog | None = None,
    ) -> None:
        self.server, self.request_timeout_s = server, request_timeout_s
        self.access_log, self.request_log = access_log, request_log

    async def __call__(self, scope: dict, receive, send) -> None:
        if scope["type"] != "http":  # lifespan is off; websockets are not served
            return
        started = time.monotonic()
        exchange = Exchange(scope["method"], scope["path"])
        content_type = JSON.encode("latin-1")
        try:
            status, body = await self._route(scope, receive, exchange, started)
            if isinstance(body, tuple):  # already encoded: (bytes, their content type)
                data, content_type = body[0], body[1].encode("latin-1")
            else:
                data = json.dumps(body).encode("utf-8")
        except ClientGone:
            metrics.refused(exchange.model, "client_gone")
            self._done(scope, exchange, 499, 0, started)
            return
        except RequestError as exc:
            status, data = exc.status, json.dumps({"error": str(exc)}).encode("utf-8")
            exchange.close = exchange.close or status in (400, 408, 411, 413) or status >= 500
        except Exception as exc:  # a bug must not reach uvicorn: log it, answer 500
            log.exception("Unexpected error on %s %s", exchange.method, exchange.path)
            body = {"error": f"Internal error: {type(exc).__name__}: {exc}"}
            status, data, exchange.close = 500, json.dumps(body).encode("utf-8"), True
        headers = [(b"content-type", content_type), (b"content-length", str(len(data)).encode())]
        if status in RETRY_AFTER:
            headers.append((b"retry-after", RETRY_AFTER[status]))
        if exchange.close or self.server.draining:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})
        self._done(scope, exchange, status, len(data), started)

    async def _route(self, scope: dict, receive, exchange: Exchange, started: float):
        server, path, method = self.server, exchange.path, exchange.method
        headers = scope["headers"]
        try:
            length = declared_length(headers, method)
        except RequestError:
            exchange.close = True
            raise
        if method == "GET":
            if length:  # a GET must not carry a body we would leave unread
                raise RequestError(400, "A GET request has no body.")
            return self._get(scope, path, exchange)
        if method != "POST":
            exchange.close = True
            raise RequestError(501, f"Method {method} is not served: use GET or POST.")
        if path != server.contract.predict_route and not _is_predict(path):
            exchange.close = True
            raise RequestError(
                404 if not TF_SERVING_PATH.match(path) else 405, f"No POST route {path}."
            )
        exchange.route = "predict"
        expects = (b"expect", b"100-continue") in headers
        exchange.close = expects  # refused before its body: a 100-continue client never sends it
        server.admission.enter()
        try:
            try:
                served = self._version_for(path, exchange)
            except RequestError as exc:  # answered once the body is read, so the client reads it
                served = exc
            else:
                served.batcher.admit()  # a busy model refuses before the body is read
            deadline = started + self.request_timeout_s
            body = await read_body(receive, length, server.max_body_bytes, deadline, expects)
            exchange.request_bytes, exchange.close = len(body), False
            if isinstance(served, RequestError):
                raise served
            if served.batcher.closed:  # retired while the body came: the split chooses again
                served = self._version_for(path, exchange)
            return await self._predict(path, served, body, receive, exchange, deadline)
        finally:
            server.admission.leave()

    def _get(self, scope: dict, path: str, exchange: Exchange) -> tuple[int, object]:
        server = self.server
        if path == server.contract.health_route:
            exchange.route = "health"
            return 200, health(server)
        if path == METRICS_ROUTE:
            exchange.route = "metrics"
            return 200, metrics.render(_header(scope, b"accept"))
        match = TF_SERVING_PATH.match(path)
        if not match or match["suffix"] == ":predict":
            raise RequestError(404 if not match else 405, f"No GET route {path}.")
        name, version, label = match["name"], match["version"] or "", match["label"] or ""
        exchange.model = name
        if match["suffix"] == "/metadata":
            exchange.route = "metadata"
            served = server.version_for(name, version, label)
            exchange.version = str(served.model.version)
            return 200, served.model.metadata_response()
        exchange.route = "status"
        return 200, version_status(server, name, version, label)

    def _version_for(self, path: str, exchange: Exchange):
        """The version a predict request on `path` goes to (the traffic split chooses)."""
        server = self.server
        if path == server.contract.predict_route:
            if not server.vertex_model:
                raise RequestError(
                    400,
                    f"{path} serves one model, but this server serves several "
                    f"({', '.join(server.deployments)}): start it with --model NAME, or POST to "
                    "/v1/models/<name>:predict.",
                )
            exchange.model = server.vertex_model
            served = server.version_for(server.vertex_model)
        else:
            match = TF_SERVING_PATH.match(path)
            exchange.model = match["name"]
            served = server.version_for(match["name"], match["version"] or "", match["label"] or "")
        exchange.version = str(served.model.version)
        return served

    async def _predict(self, path: str, served, body: bytes, receive, exchange, deadline: float):
        server = self.server
        vertex = path == server.contract.predict_route
        offload = len(body) > OFFLOAD_BYTES
        payload, request = await _maybe_offload(offload, _parse, body, served, not vertex, server)
        future = served.batcher.submit(request.batch, deadline)
        outputs = await _answer_or_client_gone(future, receive, served)
        if vertex:
            answer = {
                "predictions": predictions(outputs),
                "deployedModelId": server.deployed_model_id(served),
            }
        elif request.columnar:
            answer = {"outputs": columns(outputs)}
        else:
            answer = {"predictions": predictions(outputs)}
        if self.request_log is not None:
            self.request_log.record(
                exchange.model,
                exchange.version,
                server.deployed_model_id(served),
                payload.get("instances", payload.get("inputs")),
                answer.get("predictions", answer.get("outputs")),
            )
        offload = offload or len(request.batch) > OFFLOAD_INSTANCES
        data = await _maybe_offload(offload, _encoded, answer)
        check_response_size(server.limits, len(data), len(request.batch))
        return 200, (data, JSON)

    def _done(self, scope: dict, exchange: Exchange, status: int, size: int, started: float):
        seconds = time.monotonic() - started
        metrics.request_done(exchange.model, exchange.version, exchange.route, status, seconds)
        if self.access_log is not None:
            self.access_log.record(
                method=exchange.method,
                url=exchange.path
                + (
                    f"?{scope['query_string'].decode('latin-1')}"
                    if scope.get("query_string")
                    else ""
                ),
                status=status,
                request_size=exchange.request_bytes,
                response_size=size,
                seconds=seconds,
                remote_ip=(scope.get("client") or ("", 0))[0],
                user_agent=_header(scope, b"user-agent"),
                protocol=f"HTTP/{scope.get('http_version', '1.1')}",
                model=exchange.model,
                version=exchange.version,
            )


def _is_predict(path: str) -> bool:
    match = TF_SERVING_PATH.match(path)
    return bool(match and match["suffix"] == ":predict")


def _header(scope: dict, name: bytes) -> str:
    return next((v.decode("latin-1") for k, v in scope["headers"] if k == name), "")


def _encoded(answer: dict) -> bytes:
    return json.dumps(answer).encode("utf-8")


def _parse(body: bytes, served, columnar_allowed: bool, server: ModelServer):
    """(the JSON payload, the checked batch); nesting too deep for Python is a 400."""
    try:
        payload = parse_json(body)
        request = parse_predict(payload, served.model.input, columnar_allowed)
    except RecursionError:
        raise RequestError(
            400, "The request body nests lists or objects too deeply: send the instances flat."
        ) from None
    check_batch(server.limits, served.model, request.batch)
    return payload, request


async def _maybe_offload(offload: bool, function, *args):
    return await asyncio.to_thread(function, *args) if offload else function(*args)


async def _answer_or_client_gone(future, receive, served) -> dict:
    """The batcher's outputs; if the client disconnects first, its request leaves the queue."""
    answer = asyncio.wrap_future(future)
    gone = asyncio.ensure_future(receive())
    try:
        done, _ = await asyncio.wait({answer, gone}, return_when=asyncio.FIRST_COMPLETED)
        if answer not in done:
            if gone.result()["type"] == "http.disconnect":
                future.cancel()
                raise ClientGone()
            await answer  # anything else after the body: answer as usual
        try:
            return answer.result()
        except tf.errors.InvalidArgumentError as exc:
            raise served.refusal(exc) from None
    finally:
        gone.cancel()
