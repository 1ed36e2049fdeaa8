"""Benchmark 10: batch prediction vs online serving vs a naive loop, and its peak memory.

One text classifier (the project's hub module + head, exported by the project, untrained
head: throughput does not depend on the weights), one generated input of support
messages as JSONL {"text": ...}. Batch prediction (trainer.batch_prediction, what the
local pipeline step and `make predict` run) streams the whole input to Vertex AI's
output layout, each run in its own process so that its peak RSS (getrusage) is its own;
it runs on the full input and on a tenth of it, to show that memory does not grow with
the input. Online serving: the project's server (`python -m serving`, its default
workers) under a closed loop of 8 keep-alive clients, each POSTing 64 instances a
request (tests/bench/load_client.py, its own process). Naive: a Python loop calling the
SavedModel's serving_default on one instance at a time, on the first rows.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.bench.data import REPO
from tests.bench.report import Result
from tests.bench.serving_peers import ours

NAME = "batch_prediction"
TITLE = "10. Batch prediction vs online serving vs a naive loop; peak memory"
TARGET = (
    "batch > online serving and > 10x the naive loop (instances/s); peak RSS on the full "
    "input <= 1.2x that on a tenth"
)
REQUEST_INSTANCES = 64
CLIENTS = 8


def run(workdir: Path, quick: bool = False) -> Result:
    rows = 20_000 if quick else 1_000_000
    naive_rows = 2_000 if quick else 20_000
    registry = _text_model(workdir)
    source = workdir / "messages.jsonl"
    _write_messages(source, rows)
    tenth = workdir / "tenth.jsonl"
    _write_messages(tenth, rows // 10)
    measured = []
    for label, path, size, batch in [
        ("batch prediction", source, rows, 64),
        ("batch prediction", source, rows, 256),
        ("batch prediction (a tenth)", tenth, rows // 10, 64),
    ]:
        out = workdir / f"out-{len(measured)}"
        stats = _child("batch", str(registry), str(path), str(out), str(batch))
        measured.append((label, size, str(batch), stats))
    online = _online(registry, source, workdir, 2 if quick else 10)
    measured.append(
        (f"online serving, {CLIENTS} clients", online["instances"], REQUEST_INSTANCES, online)
    )
    naive = _child("naive", str(registry), str(source), str(naive_rows))
    measured.append(("naive loop, one instance a call", naive_rows, "1", naive))
    return _result(measured, rows)


def _text_model(workdir: Path) -> Path:
    code = (
        "import sys; from pathlib import Path; w = Path(sys.argv[1]);"
        "from trainer.text.demo_data import CLASSES;"
        "from trainer.text.embedding_module import write_text_embedding_module;"
        "from trainer.text.export import export_text_classifier;"
        "from trainer.text.model import build_text_classifier;"
        "from serving.registry.local_registry import LocalModelRegistry;"
        "import tensorflow as tf; tf.keras.utils.set_random_seed(0);"
        "m = build_text_classifier(str(write_text_embedding_module(w / 'embed')), len(CLASSES),"
        " hidden_units=32);"
        "export_text_classifier(m, w / 'text', list(CLASSES), {});"
        "LocalModelRegistry(w / 'registry').register('text', w / 'text')"
    )
    subprocess.run([sys.executable, "-c", code, str(workdir)], check=True, cwd=REPO)
    return workdir / "registry"


def _write_messages(path: Path, rows: int) -> None:
    from trainer.text.demo_data import generate_messages

    texts = [m["text"] for m in generate_messages(1000, seed=3)]
    with path.open("w") as out:
        for i in range(rows):
            out.write(json.dumps({"text": f"{texts[i % len(texts)]} (ref {i})"}) + "\n")


def _child(*args: str) -> dict:
    command = [sys.executable, "-m", "tests.bench.batch_child", *args]
    done = subprocess.run(command, check=True, cwd=REPO, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _online(registry: Path, source: Path, workdir: Path, seconds: float) -> dict:
    import psutil

    from trainer.launch import free_ports

    with source.open() as lines:
        instances = [json.loads(next(lines)) for _ in range(REQUEST_INSTANCES)]
    body = workdir / "body.json"
    body.write_text(json.dumps({"instances": instances}))
    [port] = free_ports(1)
    out = workdir / "online.json"
    with ours(registry, port, ["--model", "text"]) as pid:
        url = f"http://127.0.0.1:{port}/v1/models/text:predict"
        client = [sys.executable, "-m", "tests.bench.load_client", url, str(body)]
        client += ["--clients", str(CLIENTS), "--seconds", str(seconds), "--out", str(out)]
        subprocess.run(client, check=True, cwd=REPO)
        tree = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
        rss = sum(p.memory_info().rss for p in tree)
    stats = json.loads(out.read_text())
    answered = len(stats["latencies"])
    return {
        "instances": answered * REQUEST_INSTANCES,
        "seconds": stats["seconds"],
        "peak_rss": rss,
        "errors": stats["errors"],
    }


def _result(measured: list, rows: int) -> Result:
    naive_rate = measured[-1][3]["instances"] / measured[-1][3]["seconds"]
    table, rates = [], {}
    for label, size, batch, stats in measured:
        rate = stats["instances"] / stats["seconds"]
        rates[(label, batch)] = rate
        table.append(
            [label, f"{size:,}", batch, f"{rate:,.0f}", f"{rate / naive_rate:.1f}x",
             f"{stats['peak_rss'] / 2**20:,.0f} MiB"]
        )  # fmt: skip
    batch_rate = rates[("batch prediction", "64")]
    online_rate = rates[(f"online serving, {CLIENTS} clients", REQUEST_INSTANCES)]
    full, tenth = measured[0][3]["peak_rss"], measured[2][3]["peak_rss"]
    met = batch_rate > online_rate and batch_rate > 10 * naive_rate and full <= 1.2 * tenth
    headline = (
        f"batch {batch_rate:,.0f}/s on {rows:,} rows = {batch_rate / online_rate:.2f}x online "
        f"serving ({online_rate:,.0f}/s), {batch_rate / naive_rate:.0f}x the naive loop "
        f"({naive_rate:,.0f}/s); peak RSS {full / 2**20:,.0f} MiB ({full / tenth:.2f}x that on "
        "a tenth of the rows)"
    )
    return Result(
        name=NAME,
        title=TITLE,
        method=" ".join(__doc__.split("\n\n")[1].split()),
        columns=["method", "instances", "batch", "instances/s", "vs naive", "peak RSS"],
        rows=table,
        headline=headline,
        target=TARGET,
        met=met,
        notes=[
            "Batch and naive rows include reading, checking (batch: the server's own request "
            "rules per instance) and writing each prediction; online serving's instances/s "
            "counts answered requests x 64 over the measured seconds, its RSS is the server's "
            "process tree after the run, and each of its requests carries the same 64 rows.",
        ],
    )
