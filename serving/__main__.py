"""Serve exported models over HTTP, as a Vertex AI custom container and as TF Serving's REST API.

    python -m serving                                  every model of build/registry, champion only
    python -m serving --model vision --traffic vision=champion:90,1:10
    python -m serving --model-dir gs://bucket/model    one exported model ($AIP_STORAGE_URI)

Binds 127.0.0.1 by default (the container image passes --host 0.0.0.0). The
port is --port, else AIP_HTTP_PORT, else 8080. It answers the health route
with 503 until every model is loaded and warmed up, then 200; with a
registry it re-reads the aliases every --poll-seconds and swaps in a new
champion without dropping requests. A model the registry cannot serve (a
corrupt file, a missing champion directory) is named in the log and in the
health route's "problems" and does not hold the others back; when no model
can be served, the server does not start.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import signal
import sys
import tempfile
from pathlib import Path

from serving.contracts.errors import InputError
from serving.contracts.logs import setup_logging
from serving.contracts.storage import copy_source_tree
from serving.registry.local_registry import LocalModelRegistry, check_model_name, export_problem
from serving.server.deployments import DEFAULT_TRAFFIC, Batching, Deployment, parse_traffic
from serving.server.http_api import PredictionHTTPServer, handler_for
from serving.server.model_server import ModelServer, VertexContract, port_number
from serving.server.settings import BATCH_TIMEOUT_MS, MAX_BATCH_SIZE, MAX_BODY_BYTES, POLL_SECONDS

PROG = "python -m serving"
STORAGE_URI_VAR = "AIP_STORAGE_URI"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

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
    p.add_argument(
        "--poll-seconds",
        type=POLL_SECONDS.parse,
        default=2.0,
        help="how often to re-read the registry's aliases; 0: never; otherwise "
        f"{POLL_SECONDS.limit.describe()} (%(default)s)",
    )
    return p


def build_server(args: argparse.Namespace, scratch: Path) -> ModelServer:
    """The ModelServer the arguments describe; bad settings raise InputError before any load."""
    contract = VertexContract.from_environ()
    if args.port:
        contract = dataclasses.replace(contract, port=args.port)
    batching = Batching(args.max_batch_size, args.batch_timeout_ms / 1000)
    model_dir = args.model_dir or os.environ.get(STORAGE_URI_VAR, "").strip()
    if model_dir:
        name = (args.model or ["model"])[0]
        local = scratch / "download"
        copy_source_tree(model_dir, local)
        registry = LocalModelRegistry(scratch / "registry")
        problem = export_problem(local)
        if problem:
            raise InputError(
                f"{model_dir} holds no complete exported model: it {problem}; pass the model "
                "directory a training step wrote."
            )
        registry.register(name, local)
        names = [name]
    else:
        registry = LocalModelRegistry(args.registry)
        names = args.model or _registered(registry)
    traffic = dict(_traffic(text, names) for text in args.traffic)
    deployments = {
        name: Deployment(registry, name, traffic.get(name, DEFAULT_TRAFFIC), batching)
        for name in names
    }
    if all(d.error for d in deployments.values()):  # the others are served, and named in /health
        raise InputError(
            f"No model of {registry.root} can be served: "
            + " ".join(f"{name}: {d.error}" for name, d in deployments.items())
        )
    return ModelServer(deployments, contract, names[0] if args.model else "", args.max_body_bytes)


def _port(text: str) -> int:
    port = port_number(text)
    if port is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535)")
    return port


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    setup_logging(timestamps=True)
    with tempfile.TemporaryDirectory(prefix="serving-") as scratch:
        try:
            server = build_server(args, Path(scratch))
        except InputError as exc:
            raise SystemExit(f"{PROG}: error: {exc}") from None
        try:
            httpd = PredictionHTTPServer((args.host, server.contract.port), handler_for(server))
        except OSError as exc:
            raise SystemExit(
                f"{PROG}: error: cannot listen on {args.host}:{server.contract.port} "
                f"({exc.strerror}): pass another --port or set AIP_HTTP_PORT."
            ) from None
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # Vertex AI stops with SIGTERM
        server.start(poll_s=0 if args.model_dir else args.poll_seconds)
        host, port = httpd.server_address[:2]
        print(
            f"Serving {', '.join(server.deployments)} on http://{host}:{port} "
            f"(health {server.contract.health_route}, predict {server.contract.predict_route}, "
            f"/v1/models/<name>:predict); loading...",
            flush=True,
        )
        try:
            httpd.serve_forever(poll_interval=0.2)
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            httpd.server_close()
            server.stop()


def _registered(registry: LocalModelRegistry) -> list[str]:
    """The models with a champion, and those whose registry files cannot say (to be named)."""
    names = []
    for path in sorted(p for p in registry.root.glob("*") if p.is_dir()):
        try:
            check_model_name(path.name)
        except InputError as exc:
            log.warning("Skipping %s, which is no model: %s", path, exc)
            continue
        try:
            if registry.champion(path.name):
                names.append(path.name)
        except (InputError, OSError):  # its Deployment names the problem, and watches for a fix
            names.append(path.name)
    if not names:
        raise InputError(
            f"The registry {registry.root} has no model with a champion: run `make run` first, "
            "or pass --registry DIR or --model-dir DIR."
        )
    return names


def _traffic(text: str, names: list[str]) -> tuple[str, tuple[tuple[str, int], ...]]:
    name, sep, split = text.partition("=")
    if not sep or name not in names:
        raise InputError(
            f"--traffic {text!r} must be MODEL=SPLIT for a served model ({', '.join(names)}), "
            "e.g. vision=champion:90,3:10."
        )
    return name, parse_traffic(split)


if __name__ == "__main__":
    main(sys.argv[1:])
