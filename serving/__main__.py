"""Serve exported models over HTTP, as a Vertex AI custom container and as TF Serving's REST API.

    python -m serving                                  every model of build/registry, champion only
    python -m serving --model vision --traffic vision=champion:90,1:10
    python -m serving --model-dir gs://bucket/model    one exported model ($AIP_STORAGE_URI)

Binds 127.0.0.1 by default (the container image passes --host 0.0.0.0). The
port is --port, else AIP_HTTP_PORT, else 8080. The health route answers 200
once every model is loaded and warmed up: with --workers 1 it answers 503
until then, with more workers connections wait in the socket's backlog until
a worker has loaded (workers accept only then); with a
registry it re-reads the aliases every --poll-seconds and swaps in a new
champion without dropping requests. A model the registry cannot serve (a
corrupt file, a missing champion directory) is named in the log and in the
health route's "problems" and does not hold the others back; when no model
can be served, the server does not start.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import socket
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from serving.command_names import PROG, STORAGE_URI_VAR
from serving.contracts.errors import InputError
from serving.contracts.logs import setup_logging
from serving.server.settings import (
    ACCESS_LOG_SAMPLE,
    BATCH_TIMEOUT_MS,
    DRAIN_SECONDS,
    MAX_BATCH_SIZE,
    MAX_BODY_BYTES,
    MAX_CONCURRENT_REQUESTS,
    MAX_ENQUEUED_BATCHES,
    MAX_IMAGE_PIXELS,
    MAX_INSTANCES,
    MAX_QUEUE_MS,
    MAX_RESPONSE_BYTES,
    POLL_SECONDS,
    REQUEST_LOG_SAMPLE,
    REQUEST_TIMEOUT_MS,
    WORKERS,
    Setting,
)
from serving.server.sockets import listen, port_number, reserve_port
from serving.server.workers import Supervisor, available_cores
from serving.worker_entry import plan_workers, run_worker
from serving.worker_plan import WorkerPlan

GRPC_PORT = 8500  # TF Serving's
WORKERS_VAR = "WEB_CONCURRENCY"

log = logging.getLogger(__name__)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    p.add_argument(
        "--registry", default="build/registry", help="local model registry (%(default)s)"
    )
    p.add_argument(
        "--model",
        action="append",
        default=[],
        help="a model of the registry to serve (repeatable; default: all). The first one is "
        "the one the Vertex AI predict route serves",
    )
    p.add_argument(
        "--traffic",
        action="append",
        default=[],
        metavar="MODEL=SPLIT",
        help="traffic split of a model over versions or aliases, e.g. vision=champion:90,3:10 "
        "(default: champion:100)",
    )
    p.add_argument(
        "--model-dir",
        help=f"serve this one exported model (local or gs://) instead of a registry; "
        f"default ${STORAGE_URI_VAR} when set",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (%(default)s)")
    p.add_argument("--port", type=_port, help="port (default: $AIP_HTTP_PORT, else 8080)")
    p.add_argument(
        "--max-batch-size",
        type=MAX_BATCH_SIZE.parse,
        default=32,
        help="instances per model call when batching requests; 1 turns batching off; "
        f"{MAX_BATCH_SIZE.limit.describe()} (%(default)s)",
    )
    p.add_argument(
        "--batch-timeout-ms",
        type=BATCH_TIMEOUT_MS.parse,
        default=0.0,
        help="how long a batch waits for more requests; 0: it takes the requests that queued "
        f"while the model was busy, adding no wait; {BATCH_TIMEOUT_MS.limit.describe()} "
        "(%(default)s ms)",
    )
    p.add_argument(
        "--max-body-bytes",
        type=MAX_BODY_BYTES.parse,
        default=10 * 2**20,
        help=f"larger request bodies get 413; {MAX_BODY_BYTES.limit.describe()} (%(default)s)",
    )
    _numeric(
        p,
        MAX_ENQUEUED_BATCHES,
        8,
        "batches a model's queue holds (as TF Serving's "
        "max_enqueued_batches); when full, a request gets 429 with Retry-After at once",
    )
    _numeric(
        p,
        MAX_QUEUE_MS,
        100.0,
        "the wait a model's queue may hold: a request that would wait longer behind full "
        "batches (at the model's recent speed), or that arrives once the oldest has waited "
        "this long past one call, gets 429 at once, so the accepted ones' latency stays "
        "bounded under overload",
    )
    _numeric(p, MAX_CONCURRENT_REQUESTS, 256, "predict requests in progress; more get 429")
    _numeric(
        p,
        REQUEST_TIMEOUT_MS,
        30_000.0,
        "each request's deadline in ms: one still "
        "waiting for the model then gets 504 and uses no model",
    )
    _numeric(p, MAX_INSTANCES, 1024, "instances per request; more get 413")
    _numeric(
        p,
        MAX_IMAGE_PIXELS,
        4096 * 4096,
        "pixels an image's header may declare (read before decoding); more get 400",
    )
    _numeric(p, MAX_RESPONSE_BYTES, 32 * 2**20, "larger answers get 413")
    _numeric(
        p,
        DRAIN_SECONDS,
        10.0,
        "after SIGTERM: how long requests in flight may take to finish while new ones get 503",
    )
    _numeric(
        p,
        ACCESS_LOG_SAMPLE,
        1.0,
        "share of requests in the JSON access log on stdout (errors always)",
    )
    p.add_argument(
        "--request-log",
        default="",
        metavar="DIR_OR_GS_URI",
        help="write a sample of predict requests and their predictions as JSONL files here "
        "(docs/request-log.md); default: off",
    )
    _numeric(p, REQUEST_LOG_SAMPLE, 1.0, "share of predict requests written to --request-log")
    p.add_argument(
        "--grpc-port",
        type=_grpc_port,
        help=f"port of TF Serving's gRPC API (PredictionService); 0 turns it off (default "
        f"{GRPC_PORT}; off in a Vertex AI container, where AIP_HTTP_PORT is set: an endpoint "
        "sends only HTTP to the containerSpec's ports)",
    )
    p.add_argument(
        WORKERS.flag,
        type=WORKERS.parse,
        help="server processes sharing the port, each loading its own copy of the models and "
        f"batching its own requests (serving/server/workers.py); {WORKERS.limit.describe()} "
        f"(default ${WORKERS_VAR}, else one per core)",
    )
    p.add_argument(
        "--poll-seconds",
        type=POLL_SECONDS.parse,
        default=2.0,
        help="how often to re-read the registry's aliases; 0: never; otherwise "
        f"{POLL_SECONDS.limit.describe()} (%(default)s)",
    )
    return p


def _numeric(p: argparse.ArgumentParser, setting: Setting, default: float, help: str) -> None:
    p.add_argument(
        setting.flag,
        type=setting.parse,
        default=default,
        help=f"{help}; {setting.limit.describe()} (%(default)s)",
    )


def default_workers() -> int:
    """$WEB_CONCURRENCY (which gunicorn and uvicorn read too), else one worker per core."""
    text = os.environ.get(WORKERS_VAR, "").strip()
    if not text:
        return min(available_cores(), int(WORKERS.limit.high))
    try:
        return int(WORKERS.parse(text))
    except argparse.ArgumentTypeError as exc:
        raise SystemExit(
            f"{PROG}: error: ${WORKERS_VAR}={text!r} (the default of --workers): {exc}"
        ) from None


def _grpc_port(text: str) -> int:
    return 0 if text.strip() == "0" else _port(text)


def _grpc_port_to_use(flag: int | None) -> int:
    if flag is not None:
        return flag
    return 0 if os.environ.get("AIP_HTTP_PORT", "").strip() else GRPC_PORT


def _port(text: str) -> int:
    port = port_number(text)
    if port is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535)")
    return port


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.workers is None:
        args.workers = default_workers()
    setup_logging(timestamps=True)
    with tempfile.TemporaryDirectory(prefix="serving-") as scratch:
        if args.workers == 1:
            _serve_alone(args, Path(scratch))
        else:
            _supervise(args, Path(scratch))


def _serve_alone(args: argparse.Namespace, scratch: Path) -> None:
    """This process serves; it accepts at once, and health answers 503 while it loads.

    The serving stack (TensorFlow) is imported here, so that a supervisor never loads it.
    """
    from serving.server.grpc_api import start_grpc_server
    from serving.server_from_args import build_server
    from serving.worker_process import request_log_of, serve_until_stopped, start_models

    try:
        server = build_server(args, scratch)
        sock = _listen(args.host, server.contract.port)
        grpc_port = _grpc_port_to_use(args.grpc_port)
        request_log = request_log_of(args)
        grpc_server = start_grpc_server(server, args.host, grpc_port)[0] if grpc_port else None
    except InputError as exc:
        raise SystemExit(f"{PROG}: error: {exc}") from None
    contract = server.contract
    _announce(list(server.deployments), sock, args, grpc_port, contract)
    start_models(server, args)
    serve_until_stopped(server, sock, grpc_server, request_log, args)


def _supervise(args: argparse.Namespace, scratch: Path) -> None:
    """--workers N: the settings and models are resolved in a child process that exits
    (TensorFlow never enters the supervisor), then N workers serve the bound socket."""
    try:
        plan = _plan(args, scratch)
        sock = _listen(args.host, plan.port)
        grpc_port = _grpc_port_to_use(args.grpc_port)
        held_grpc_port = reserve_port(args.host, grpc_port) if grpc_port else None
    except InputError as exc:
        raise SystemExit(f"{PROG}: error: {exc}") from None
    except KeyboardInterrupt:  # Ctrl-C while the models were checked
        raise SystemExit(130) from None
    _announce(plan.models, sock, args, grpc_port, plan)
    status = Supervisor(
        args.workers, run_worker, (plan.worker_args, sock, grpc_port), args.drain_seconds
    ).run()
    if held_grpc_port is not None:
        held_grpc_port.close()
    if status:
        raise SystemExit(f"{PROG}: error: a worker could not start (its error is above).")


def _plan(args: argparse.Namespace, scratch: Path) -> WorkerPlan:
    spawn = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(1, mp_context=spawn) as child:
            return child.submit(plan_workers, args, scratch).result()
    except BrokenProcessPool:
        raise SystemExit(
            f"{PROG}: error: the process checking the models died (out of memory?): "
            "try --workers 1 to see its error."
        ) from None


def _announce(models: list[str], sock: socket.socket, args, grpc_port: int, routes) -> None:
    """The line that says where the server listens; `routes` has health_route and
    predict_route (the server's VertexContract, or the workers' plan)."""
    host, port = sock.getsockname()[:2]
    grpc = f", gRPC on {args.host}:{grpc_port}" if grpc_port else ""
    workers = f" with {args.workers} workers" if args.workers > 1 else ""
    print(
        f"Serving {', '.join(models)} on http://{host}:{port}{workers} "
        f"(health {routes.health_route}, predict {routes.predict_route}, "
        f"/v1/models/<name>:predict, /metrics{grpc}); loading...",
        flush=True,
    )


def _listen(host: str, port: int):
    try:
        return listen(host, port)
    except OSError as exc:
        raise InputError(
            f"cannot listen on {host}:{port} ({exc.strerror}): pass another --port or set "
            "AIP_HTTP_PORT."
        ) from None


if __name__ == "__main__":
    main(sys.argv[1:])
