"""The ModelServer that `python -m serving`'s arguments describe: in the one serving
process, in the child that checks them for --workers, and in each worker alike
(serving/__main__.py parses them, serving/worker_process.py serves)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
from pathlib import Path

from serving.command_names import STORAGE_URI_VAR
from serving.contracts.errors import InputError
from serving.contracts.storage import copy_source_tree
from serving.registry.local_registry import LocalModelRegistry, check_model_name, export_problem
from serving.server.admission import Admission
from serving.server.deployments import DEFAULT_TRAFFIC, Batching, Deployment, parse_traffic
from serving.server.model_server import ModelServer, VertexContract
from serving.server.request_limits import RequestLimits

log = logging.getLogger(__name__)


def build_server(args: argparse.Namespace, scratch: Path) -> ModelServer:
    """The ModelServer the arguments describe; bad settings raise InputError before any load."""
    contract = VertexContract.from_environ()
    if args.port:
        contract = dataclasses.replace(contract, port=args.port)
    batching = Batching(
        args.max_batch_size,
        args.batch_timeout_ms / 1000,
        args.max_enqueued_batches,
        args.max_queue_ms / 1000,
    )
    model_dir = model_dir_of(args)
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
    limits = RequestLimits(args.max_instances, args.max_image_pixels, args.max_response_bytes)
    return ModelServer(
        deployments,
        contract,
        names[0] if args.model else "",
        args.max_body_bytes,
        limits=limits,
        admission=Admission(args.max_concurrent_requests),
    )


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


def model_dir_of(args: argparse.Namespace) -> str:
    """--model-dir, else $AIP_STORAGE_URI; "" for a worker (the checking child copied the model)."""
    if args.model_dir is None:
        return os.environ.get(STORAGE_URI_VAR, "").strip()
    return args.model_dir.strip()
