"""Benchmark 9: the prediction server against its peers, under overload, and over gRPC.

Every server runs as its own process on 127.0.0.1 serving the vision (64 px demo
base + head) and text (hub module + head) models, exported by the project; each
load generator is another process (serving_traffic.py). Servers:
- the project's `python -m serving` with as many workers as cores, batching on (its
  default: up to 32 instances per call, no wait) and off (--max-batch-size 1), and
  with one worker;
- KServe 0.21 with an async predict on a thread pool and as many workers;
- BentoML with adaptive batching and as many workers.
The overload table offers the project's sustainable rate (its answered/s at 32
clients) 1x, 2x and 4x open-loop, and the peers 4x.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from serving.server.workers import available_cores
from tests.bench import serving_peers, serving_traffic
from tests.bench.data import pretrained_weights
from tests.bench.report import Result

NAME = "serving_load"
TITLE = "9. Serving: the project's server vs KServe and BentoML; overload; gRPC vs REST; memory"
TARGET = (
    "at 32 clients >= 1.5x the best peer's requests/s with a p99 no worse; batching >= 3x; "
    "accepted p99 at 4x overload <= 1.5x that at 2x (it does not grow with the offered load)"
)
CLIENTS = (1, 8, 32)
WORKERS = available_cores()  # the server's own default
OURS = f"project, {WORKERS} workers"
OURS_OFF = f"{OURS}, batching off"
# batching off queues as many requests as batching on holds instances (8 batches of 32)
UNBATCHED_QUEUE = ("--max-enqueued-batches", str(8 * 32))
OURS_ONE = "project, 1 worker"
KSERVE = f"KServe 0.21, async predict, {WORKERS} workers"
BENTOML = f"BentoML 1.4, adaptive batching, {WORKERS} workers"
OVERLOAD = (1, 2, 4)
MODELS = ("vision", "text")


def run(workdir: Path, quick: bool = False) -> Result:
    from trainer.launch import free_ports

    seconds = 1.0 if quick else 5.0
    registry, values, bodies = _models(workdir)
    kserve_python, kserve_missing = serving_peers.peer_python("kserve")
    bentoml_python, bentoml_missing = serving_peers.peer_python("bentoml")
    both = ["--model", "vision", "--model", "text"]
    servers: dict[str, Callable] = {
        OURS: lambda port, grpc: serving_peers.ours(
            registry, port, [*both, "--workers", str(WORKERS), "--grpc-port", str(grpc)]
        ),
        OURS_OFF: lambda port, _: serving_peers.ours(
            registry,
            port,
            [*both, "--workers", str(WORKERS), *("--max-batch-size", "1"), *UNBATCHED_QUEUE],
        ),
        OURS_ONE: lambda port, _: serving_peers.ours(registry, port, [*both, "--workers", "1"]),
    }
    if kserve_python is not None:
        servers[KSERVE] = lambda port, _: serving_peers.kserve(
            kserve_python, registry, port, WORKERS
        )
    if bentoml_python is not None:
        servers[BENTOML] = lambda port, _: serving_peers.bentoml(
            bentoml_python, registry, port, WORKERS
        )
    measured: dict[tuple, dict] = {}
    rows: list[list[str]] = []

    def record(key: tuple, stats: dict) -> None:
        measured[key] = stats
        rows.append(_row(key, stats))
        print(f"[{NAME}] {' | '.join(rows[-1])}", flush=True)

    for server, start in servers.items():
        port, grpc_port = free_ports(2)
        with start(port, grpc_port):
            for model in MODELS:
                url = _url(server, port, model)
                for clients in CLIENTS:
                    stats = serving_traffic.closed_loop(
                        workdir, url, bodies[model], clients, seconds
                    )
                    record((model, server, f"{clients} clients"), stats)
            for model in MODELS if server in (OURS, KSERVE, BENTOML) else ():
                sustainable = measured[(model, OURS, "32 clients")]["rps"]
                for times in OVERLOAD if server == OURS else OVERLOAD[-1:]:
                    stats = serving_traffic.open_loop(
                        workdir,
                        _url(server, port, model),
                        bodies[model],
                        times * sustainable,
                        seconds,
                    )
                    record((model, server, f"open loop {times}x"), stats)
            for model in MODELS if server == OURS else ():
                for clients in CLIENTS[1:]:
                    stats = serving_traffic.closed_loop_grpc(
                        workdir, f"127.0.0.1:{grpc_port}", model, values[model], clients, seconds
                    )
                    record((model, f"{OURS}, gRPC", f"{clients} clients"), stats)
    memory = _memory(registry, free_ports)
    return _result(measured, rows, memory, seconds, [kserve_missing, bentoml_missing])


def _models(workdir: Path) -> tuple[Path, dict[str, bytes], dict[str, bytes]]:
    """A registry with vision (2 versions) and text; per model, one instance's value (for
    gRPC) and a JSON request body holding it (for REST)."""
    import tensorflow as tf

    from pipelines.vision.demo import BASE_MODEL, IMAGE_SIZE
    from serving.registry.local_registry import LocalModelRegistry
    from trainer.text.demo_data import CLASSES
    from trainer.text.embedding_module import write_text_embedding_module
    from trainer.text.export import export_text_classifier
    from trainer.text.model import build_text_classifier
    from trainer.vision.export import export_image_classifier
    from trainer.vision.model import build_base, build_classifier

    tf.keras.utils.set_random_seed(0)
    base = build_base(BASE_MODEL, str(pretrained_weights()), IMAGE_SIZE)
    vision = build_classifier(base, BASE_MODEL, 5, IMAGE_SIZE)
    classes = [f"digit_{d}" for d in range(5)]
    export_image_classifier(vision, workdir / "vision", classes, IMAGE_SIZE, {})
    handle = str(write_text_embedding_module(workdir / "embed"))
    text = build_text_classifier(handle, len(CLASSES), hidden_units=32)
    export_text_classifier(text, workdir / "text", list(CLASSES), {})
    registry = LocalModelRegistry(workdir / "registry")
    registry.register("vision", workdir / "vision")
    registry.register("vision", workdir / "vision")
    registry.register("text", workdir / "text")
    buffer = io.BytesIO()
    Image.effect_noise((32, 32), 64).convert("RGB").save(buffer, format="PNG")
    values = {
        "vision": buffer.getvalue(),
        "text": b"I was charged twice for my order, please refund",
    }
    bodies = {
        "vision": {"instances": [{"b64": base64.b64encode(values["vision"]).decode()}]},
        "text": {"instances": [values["text"].decode()]},
    }
    return registry.root, values, {name: json.dumps(b).encode() for name, b in bodies.items()}


def _url(server: str, port: int, model: str) -> str:
    if server == BENTOML:
        return f"http://127.0.0.1:{port}/{model}"
    return f"http://127.0.0.1:{port}/v1/models/{model}:predict"


def _memory(registry: Path, free_ports: Callable) -> dict[str, float]:
    """PSS in MiB of the whole server (supervisor and workers) after loading, per setup:
    each shared page counted once over the processes sharing it, unlike RSS."""
    import psutil

    memory = {}
    setups = {
        "vision, 1 version, 1 worker": ["--model", "vision", "--workers", "1"],
        "vision, 2 versions (traffic 50/50), 1 worker": [
            *("--model", "vision", "--traffic", "vision=1:50,2:50", "--workers", "1"),
        ],
        f"vision, 1 version, {WORKERS} workers": ["--model", "vision", "--workers", str(WORKERS)],
    }
    for label, flags in setups.items():
        with serving_peers.ours(registry, free_ports(1)[0], flags) as pid:
            process = psutil.Process(pid)
            tree = [process, *process.children(recursive=True)]
            memory[label] = sum(p.memory_full_info().pss for p in tree) / 2**20
        print(f"[{NAME}] memory {label}: {memory[label]:.0f} MiB", flush=True)
    return memory


def _row(key: tuple, stats: dict) -> list[str]:
    model, server, load = key
    offered = f"{stats['offered']:,.0f}" if "offered" in stats else ""
    refused = f"{stats['refused']:.0%}" if "refused" in stats else ""
    return [
        model,
        server,
        load,
        offered,
        f"{stats['rps']:,.0f}",
        _ms(stats["p50"]),
        _ms(stats["p99"]),
        refused,
        str(stats["errors"]),
        f"{stats['not_sent']:,}" if "not_sent" in stats else "",
    ]


def _ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.1f}"


def _result(
    measured: dict, rows: list, memory: dict[str, float], seconds: float, missing: list[str]
) -> Result:
    at32 = {key[:2]: stats for key, stats in measured.items() if key[2] == "32 clients"}
    peers = [s for s in (KSERVE, BENTOML) if ("text", s) in at32]
    headline, met = [], True
    for model in MODELS:
        ours = at32[(model, OURS)]
        gain = ours["rps"] / at32[(model, OURS_OFF)]["rps"]
        workers = ours["rps"] / at32[(model, OURS_ONE)]["rps"]
        grpc = at32[(model, f"{OURS}, gRPC")]["rps"] / ours["rps"]
        one_x, two_x, four_x = (measured[(model, OURS, f"open loop {n}x")] for n in OVERLOAD)
        growth = four_x["p99"] / two_x["p99"]
        part = (
            f"{model}: batching {gain:.2f}x, {WORKERS} workers {workers:.2f}x 1 worker, "
            f"gRPC {grpc:.2f}x REST, at 4x overload goodput {four_x['rps']:,.0f}/s with "
            f"{four_x['refused']:.0%} refused and accepted p99 {_ms(four_x['p99'])} ms, "
            f"{growth:.2f}x that at 2x ({_ms(one_x['p99'])} ms at 1x)"
        )
        met &= gain >= 3 and growth <= 1.5
        if peers:
            best = max(peers, key=lambda s, m=model: at32[(m, s)]["rps"])
            ratio = ours["rps"] / at32[(model, best)]["rps"]
            part += f", {ratio:.2f}x the best peer ({best.split(',')[0]})"
            met &= ratio >= 1.5 and ours["p99"] <= at32[(model, best)]["p99"]
        headline.append(part)
    rows += [
        ["memory", label, "", "", "", "", "", "", f"{mib:,.0f} MiB PSS", ""]
        for label, mib in memory.items()
    ]
    return Result(
        name=NAME,
        title=TITLE,
        method=(
            f"Measured on {os.cpu_count()} cores, servers and load generators on the same "
            "machine. Models: the vision classifier on the 64 px demo base (image_bytes, one "
            "32x32 PNG per request, decoded and resized in the graph) and the text classifier "
            "on the project's hub module (one support message per request), exported by the "
            "project's export code (untrained heads: throughput does not depend on the "
            "weights). Every server serves both models in one deployment. Closed loop: N "
            "threads each with one keep-alive connection (gRPC: its own channel), each "
            f"sending again once answered, 1 s warm-up then {seconds:g} s measured. Open "
            "loop (tests/bench/open_loop_client.py): requests at a fixed rate on as many "
            "connections as needed, whatever the answers; the rate is a multiple of the "
            "project's answered/s at 32 clients, and `offered/s` is what the generator "
            "achieved, on at most 1,024 connections (`not sent`: requests due while all "
            "were busy, as a load balancer's connection pool would hold them back). "
            "`refused` is the share answered 429 or 503 (with Retry-After), `errors` the "
            "requests with no answer within 30 s or another status, and the latencies are "
            "those of the 200s. Memory: PSS of the server's whole process tree after loading "
            "and warming up (pages shared between processes, such as TensorFlow's libraries, "
            "counted once)."
        ),
        columns=[
            "model",
            "server",
            "load",
            "offered/s",
            "answered/s",
            "p50 ms",
            "p99 ms",
            "refused",
            "errors",
            "not sent",
        ],
        rows=rows,
        headline="; ".join(headline),
        target=TARGET,
        met=met if peers else None,
        notes=[
            *(f"Peer not measured: {why}" for why in missing if why),
            "KServe 0.21 (tests/bench/kserve_server.py) is configured as its docs recommend "
            "for a CPU-bound model: an async predict that runs the signature call in the event "
            "loop's thread pool, and as many uvicorn workers as the project's server gets. "
            "BentoML (tests/bench/bentoml_service.py) uses batchable APIs (adaptive batching, "
            "up to 32 instances, 1 s latency budget) and the same number of workers. Each runs "
            "from its own venv (tests/bench/*-requirements.txt), does the same work per "
            "request (base64 decoding, one signature call, outputs to JSON) and gets the same "
            "bodies from the same load generators.",
            "Batching off (--max-batch-size 1) gets a queue of 256 requests "
            "(--max-enqueued-batches 256), as many as batching on holds instances, so that "
            "the comparison is of batching, not of queue sizes (by default its queue holds "
            "8 requests, as TF Serving's max_enqueued_batches counts batches).",
            f"The load generators are Python processes sharing the {os.cpu_count()} cores "
            "with the server: absolute requests/s are a floor for a dedicated machine; the "
            "ratios measured side by side are the figures to compare. An open-loop "
            "generator short of CPU offers less than asked; the offered/s column says what it "
            "achieved.",
        ],
    )
