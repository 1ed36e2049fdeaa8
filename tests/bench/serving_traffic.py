"""The traffic of benchmark 9, each kind from a load generator process of its own:
closed-loop REST (load_client.py), closed-loop gRPC (grpc_load_client.py) and
open-loop REST at a fixed offered rate (open_loop_client.py)."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

from tests.bench.data import REPO

INPUTS = {"vision": "image_bytes", "text": "text"}  # the signatures' input names


def closed_loop(workdir: Path, url: str, body: bytes, clients: int, seconds: float) -> dict:
    """N keep-alive clients, each sending again once answered: answered/s and latencies."""
    body_file = workdir / "body.json"
    body_file.write_bytes(body)
    return _run(
        workdir,
        ["tests.bench.load_client", url, str(body_file)],
        ["--clients", str(clients), "--seconds", str(seconds)],
        seconds,
    )


def closed_loop_grpc(
    workdir: Path, target: str, model: str, value: bytes, clients: int, seconds: float
) -> dict:
    value_file = workdir / "value.bin"
    value_file.write_bytes(value)
    return _run(
        workdir,
        ["tests.bench.grpc_load_client", target, model, INPUTS[model], str(value_file)],
        ["--clients", str(clients), "--seconds", str(seconds)],
        seconds,
    )


def open_loop(workdir: Path, url: str, body: bytes, rate: float, seconds: float) -> dict:
    """`rate` requests/s whatever the answers: goodput, refusals and the accepted latencies."""
    body_file, out = workdir / "body.json", workdir / "load.json"
    body_file.write_bytes(body)
    command = [sys.executable, "-m", "tests.bench.open_loop_client", url, str(body_file)]
    command += ["--rate", f"{rate:.0f}", "--seconds", str(seconds), "--out", str(out)]
    subprocess.run(command, cwd=REPO, check=True, timeout=seconds + 120)
    result = json.loads(out.read_text())
    statuses = result["statuses"]
    sent = sum(statuses.values())
    refused = statuses.get("429", 0) + statuses.get("503", 0)
    failed = sent - refused - statuses.get("200", 0)
    return {
        "offered": result["offered_per_s"],
        "rps": statuses.get("200", 0) / result["seconds"],
        "refused": refused / sent if sent else 0.0,
        "errors": failed,
        "not_sent": result["not_sent"],
        **_percentiles(result["latencies"]),
    }


def _run(workdir: Path, command: list[str], options: list[str], seconds: float) -> dict:
    out = workdir / "load.json"
    subprocess.run(
        [sys.executable, "-m", *command, *options, "--out", str(out)],
        cwd=REPO,
        check=True,
        timeout=seconds + 120,
    )
    result = json.loads(out.read_text())
    if not result["latencies"]:
        raise RuntimeError(f"{command[1]}: no request was answered ({result['errors']} errors)")
    return {
        "rps": len(result["latencies"]) / result["seconds"],
        "errors": result["errors"],
        **_percentiles(result["latencies"]),
    }


def _percentiles(latencies: list[float]) -> dict:
    ordered = sorted(latencies)
    if not ordered:
        return {"p50": float("nan"), "p99": float("nan")}
    return {
        "p50": statistics.median(ordered),
        "p99": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
    }
