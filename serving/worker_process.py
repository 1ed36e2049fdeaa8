"""The body of `python -m serving`'s server process, and of each of its --workers.

A module of its own because a worker is started by multiprocessing's spawn, which
finds its function by module name: `__main__` is not importable in the worker
(serving/worker_entry.py names these functions to the supervisor).
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
from pathlib import Path

import grpc

from serving.command_names import PROG
from serving.contracts.errors import InputError
from serving.contracts.logs import setup_logging
from serving.server.access_log import AccessLog
from serving.server.grpc_api import start_grpc_server
from serving.server.http_api import PredictionApp
from serving.server.http_server import serve
from serving.server.model_server import ModelServer
from serving.server.request_log import RequestLog
from serving.server.workers import STARTUP_FAILURE
from serving.server_from_args import build_server, model_dir_of
from serving.worker_plan import WorkerPlan


def run_worker(args: argparse.Namespace, sock: socket.socket, grpc_port: int) -> None:
    """One of --workers N processes: what a single process does, on the supervisor's socket.

    A worker accepts (HTTP and gRPC) only once its models are loaded, so that the kernel
    gives the shared sockets' connections to the workers that can answer them, never to
    one still loading; while all are, connections wait in the sockets' backlogs.
    """
    setup_logging(timestamps=True)
    with tempfile.TemporaryDirectory(prefix="serving-worker-") as scratch:
        try:
            server = build_server(args, Path(scratch))
            request_log = request_log_of(args)
        except InputError as exc:
            print(f"{PROG}: error: {exc}", file=sys.stderr, flush=True)
            sys.exit(STARTUP_FAILURE)
        start_models(server, args)
        try:
            server.wait_loaded()
        except KeyboardInterrupt:  # Ctrl-C reaches every process of the terminal
            server.stop()
            return
        grpc_server = None
        if grpc_port:
            grpc_server = start_grpc_server(server, args.host, grpc_port, reuse_port=True)[0]
        serve_until_stopped(server, sock, grpc_server, request_log, args)


def plan(args: argparse.Namespace, scratch: Path) -> WorkerPlan:
    """What --workers N serve: the settings checked and the models resolved (a copied
    model registered in `scratch`), as a single process would; InputError if bad."""
    server = build_server(args, scratch)
    if args.request_log:  # the directory is checked here, and written by workers
        request_log_of(args).close()
    worker = argparse.Namespace(**vars(args))
    first = next(iter(server.deployments.values()))
    worker.registry = str(first.registry.root)
    if model_dir_of(args):  # a copy, registered in the scratch registry
        worker.model = list(server.deployments)
        worker.poll_seconds = 0
    worker.model_dir = ""
    contract = server.contract
    return WorkerPlan(
        worker,
        list(server.deployments),
        contract.port,
        contract.health_route,
        contract.predict_route,
    )


def start_models(server: ModelServer, args: argparse.Namespace) -> None:
    """Load the models in the background, then watch the registry (not a copied model)."""
    server.start(poll_s=0 if model_dir_of(args) else args.poll_seconds)


def serve_until_stopped(
    server: ModelServer,
    sock: socket.socket,
    grpc_server: grpc.Server | None,
    request_log: RequestLog | None,
    args: argparse.Namespace,
) -> None:
    """Serve the started server until SIGTERM (drained) or Ctrl-C; then stop everything."""
    app = PredictionApp(
        server, args.request_timeout_ms / 1000, AccessLog(args.access_log_sample), request_log
    )
    try:
        serve(app, sock, args.drain_seconds)
    except KeyboardInterrupt:
        pass
    finally:
        if grpc_server is not None:
            grpc_server.stop(grace=1).wait(5)
        server.stop()
        if request_log is not None:
            request_log.close()


def request_log_of(args: argparse.Namespace) -> RequestLog | None:
    return RequestLog(args.request_log, args.request_log_sample) if args.request_log else None
