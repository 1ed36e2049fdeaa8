"""Benchmark 9: the prediction server under load, batching on vs off; memory per version.

`python -m serving` runs as one process on 127.0.0.1 serving the vision
(64 px demo base + head) and text (hub module + head) models from a
registry; `tests.bench.load_client` runs as another process and keeps N
keep-alive clients busy, each sending the next request when the last is
answered (one instance per request). Batching on is the server's default
(up to 32 instances per call, no wait: what queued while the model was busy);
off is --max-batch-size 1.
"""

from __future__ import annotations

import base64
import io
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from PIL import Image

from tests.bench.data import REPO, pretrained_weights
from tests.bench.report import Result

NAME = "serving_load"
TITLE = "9. Serving: requests/s and latency at 1/8/32 clients, batching on vs off; memory"
TARGET = "batching >= 3x throughput at 32 clients; p99 <= 3x p50 at 8 clients (batching on)"
CLIENTS = (1, 8, 32)
MODES = {"batching on": ["--max-batch-size", "32"]}  # the default: no wait
MODES["batching off"] = ["--max-batch-size", "1"]
BOTH_MODELS = ["--model", "vision", "--model", "text"]
KSERVE = "KServe 0.21 model server (V1)"
READY_TIMEOUT_S = 180


def run(workdir: Path, quick: bool = False) -> Result:
    import psutil

    from trainer.launch import free_ports

    seconds = 1.0 if quick else 6.0
    registry, bodies = _models(workdir)
    kserve_python, kserve_missing = _kserve_python()
    servers = {
        mode: (lambda port, flags=flags: _ours(registry, port, [*BOTH_MODELS, *flags]))
        for mode, flags in MODES.items()
    }
    if kserve_python is not None:
        servers[KSERVE] = lambda port: _kserve(kserve_python, registry, port)
    rows, measured = [], {}
    for mode, server in servers.items():
        port = free_ports(1)[0]
        with server(port):
            for model, body in bodies.items():
                for clients in CLIENTS:
                    stats = _load(workdir, port, model, body, clients, seconds)
                    measured[(model, mode, clients)] = stats
                    rows.append(_row(model, mode, clients, stats))
                    print(f"[{NAME}] {model}, {mode}, {clients} clients: {rows[-1]}", flush=True)
    memory = {}
    for label, flags in {
        "vision, 1 version": ["--model", "vision"],
        "vision, 2 versions (traffic 50/50)": [
            "--model",
            "vision",
            "--traffic",
            "vision=1:50,2:50",
        ],
    }.items():
        port = free_ports(1)[0]
        with _ours(registry, port, flags) as pid:
            memory[label] = psutil.Process(pid).memory_info().rss / 2**20
        print(f"[{NAME}] memory {label}: {memory[label]:.0f} MiB", flush=True)

    gains = {
        model: measured[(model, "batching on", 32)]["rps"]
        / measured[(model, "batching off", 32)]["rps"]
        for model in bodies
    }
    tails = {
        model: measured[(model, "batching on", 8)]["p99"]
        / measured[(model, "batching on", 8)]["p50"]
        for model in bodies
    }
    met = all(g >= 3 for g in gains.values()) and all(t <= 3 for t in tails.values())
    one, two = memory.values()
    rows += [
        ["memory", label, "", f"{mib:,.0f} MiB RSS", "", "", "", ""]
        for label, mib in memory.items()
    ]
    return Result(
        name=NAME,
        title=TITLE,
        method=(
            f"Measured on {os.cpu_count()} cores, server and load generator on the same machine. "
            "Models: the vision classifier on the 64 px demo base (image_bytes, one 32x32 PNG "
            "digit per request, decoded and resized in the graph) and the text classifier on "
            "the project's hub module (one support message per request), both exported by the "
            "project's export code (untrained heads: throughput does not depend on the weights). "
            "Server: `python -m serving` on 127.0.0.1, both models in one process. Load: "
            "`python -m tests.bench.load_client`, a separate process, N threads each with one "
            f"keep-alive connection, closed loop, 1 s warm-up then {seconds:g} s measured per "
            "cell. Memory: the server's RSS after loading and warming up, with one version of "
            "the vision model and with two versions taking traffic."
        ),
        columns=[
            "model",
            "server",
            "clients",
            "requests/s",
            "p50 ms",
            "p99 ms",
            "p99/p50",
            "errors",
        ],
        rows=rows,
        headline=(
            "batching at 32 clients: "
            + ", ".join(f"{m} {g:.2f}x" for m, g in gains.items())
            + "; p99/p50 at 8 clients: "
            + ", ".join(f"{m} {t:.1f}x" for m, t in tails.items())
            + f"; RSS {one:,.0f} -> {two:,.0f} MiB with a second version"
            + (_versus_kserve(measured, list(bodies)) if kserve_python is not None else "")
        ),
        target=TARGET,
        met=met,
        notes=[
            *([f"KServe peer not measured: {kserve_missing}"] if kserve_missing else []),
            "KServe 0.21's Python model server (FastAPI on uvicorn, one worker, no batching: "
            "KServe batches in a separate agent) serves the same two SavedModels from its own "
            "venv (tests/bench/kserve-requirements.txt) through tests/bench/kserve_server.py, "
            "which does the same work per request: base64 decoding, one signature call, outputs "
            "to JSON; same request bodies, same load generator, same V1 route.",
            f"The load generator is Python threads sharing the {os.cpu_count()} cores with the "
            "server, so at 32 clients both compete for CPU: the absolute requests/s are a floor "
            "for a dedicated machine, the batching on/off ratio is the figure to compare.",
            "With batching off every request is its own model call (and its own Python and "
            "TensorFlow dispatch); with batching on, the requests that queued while the model "
            "was busy share the next call (up to 32 instances). A 5 ms wait for more requests "
            "(--batch-timeout-ms 5) was measured while building this and was slower at every "
            "load (text, 1 client: 10.5 ms p50 against 1.7 ms), so the default waits for nothing.",
        ],
    )


def _versus_kserve(measured: dict, models: list[str]) -> str:
    ratios = [
        measured[(m, "batching on", 32)]["rps"] / measured[(m, KSERVE, 32)]["rps"] for m in models
    ]
    return "; vs KServe at 32 clients: " + ", ".join(
        f"{m} {r:.1f}x" for m, r in zip(models, ratios, strict=True)
    )


def _row(model: str, mode: str, clients: int, stats: dict) -> list[str]:
    return [
        model,
        mode,
        str(clients),
        f"{stats['rps']:,.0f}",
        f"{stats['p50'] * 1000:.1f}",
        f"{stats['p99'] * 1000:.1f}",
        f"{stats['p99'] / stats['p50']:.1f}x",
        str(stats["errors"]),
    ]


def _models(workdir: Path) -> tuple[Path, dict[str, bytes]]:
    """A registry with vision (2 versions) and text, and one request body per model."""
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
    image = buffer.getvalue()
    bodies = {
        "vision": {"instances": [{"b64": base64.b64encode(image).decode()}]},
        "text": {"instances": ["I was charged twice for my order, please refund"]},
    }
    return registry.root, {name: json.dumps(body).encode() for name, body in bodies.items()}


class _server:
    """A server process until the block ends; yields its pid once `ready_url` answers 200."""

    def __init__(self, command: list[str], ready_url: str) -> None:
        self.command, self.ready_url = command, ready_url

    def __enter__(self) -> int:
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        self.process = subprocess.Popen(
            self.command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{' '.join(self.command)} exited with {self.process.returncode}"
                )
            try:
                with urllib.request.urlopen(self.ready_url, timeout=5):
                    return self.process.pid
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.command[2]} was not ready within {READY_TIMEOUT_S} s")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _ours(registry: Path, port: int, flags: list[str]) -> _server:
    command = [sys.executable, "-m", "serving", "--registry", str(registry), "--port", str(port)]
    return _server([*command, "--poll-seconds", "0", *flags], f"http://127.0.0.1:{port}/health")


def _kserve(python: Path, registry: Path, port: int) -> _server:
    models = [f"{name}={registry / name / 'versions' / '1'}" for name in ("vision", "text")]
    command = [str(python), str(REPO / "tests" / "bench" / "kserve_server.py"), "--port", str(port)]
    for model in models:
        command += ["--model", model]
    return _server(command, f"http://127.0.0.1:{port}/v1/models/text")


def _kserve_python() -> tuple[Path | None, str]:
    """The bench-only venv's python with kserve installed (made once); (None, why) if it fails."""
    requirements = REPO / "tests" / "bench" / "kserve-requirements.txt"
    venv = REPO / "build" / "bench" / "kserve-venv"
    python, stamp = venv / "bin" / "python", venv / ".installed"
    wanted = requirements.read_text()
    if stamp.is_file() and stamp.read_text() == wanted:
        return python, ""
    print(f"[{NAME}] installing {requirements.name} into {venv} (once)", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "-r", str(requirements)],
            check=True,
            timeout=1800,
            capture_output=True,
            text=True,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        detail = getattr(exc, "stderr", "") or ""
        return None, f"pip install -r {requirements.name} failed: {detail.strip()[-300:]}"
    stamp.write_text(wanted)
    return python, ""


def _load(workdir: Path, port: int, model: str, body: bytes, clients: int, seconds: float) -> dict:
    body_file, out = workdir / f"{model}.json", workdir / "load.json"
    body_file.write_bytes(body)
    url = f"http://127.0.0.1:{port}/v1/models/{model}:predict"
    options = ["--clients", str(clients), "--seconds", str(seconds), "--out", str(out)]
    subprocess.run(
        [sys.executable, "-m", "tests.bench.load_client", url, str(body_file), *options],
        cwd=REPO,
        check=True,
        timeout=seconds + 120,
    )
    result = json.loads(out.read_text())
    latencies = sorted(result["latencies"])
    if not latencies:
        raise RuntimeError(f"no request to {url} was answered ({result['errors']} errors)")
    return {
        "rps": len(latencies) / result["seconds"],
        "p50": statistics.median(latencies),
        "p99": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "errors": result["errors"],
    }
