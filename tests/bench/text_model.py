"""Benchmark 7: the text classifier: training with tf.function vs eagerly; served batch sizes.

Training: the same model (the project's hub module, fine-tuned, + Dense
layers) on the same generated support messages, compiled the default way
(model.fit runs a tf.function train step) and with run_eagerly=True (every
op dispatched from Python). Inference: the exported SavedModel's
serving_default called on batches of 1, 32 and 256 raw strings.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

from tests.bench.report import Result

NAME = "text_model"
TITLE = "7. Text model: tf.function vs eager training; inference by batch size"
TARGET = "tf.function training > eager (>1x)"
ROUNDS = 3
BATCH_SIZE = 32
SERVE_BATCHES = (1, 32, 256)


def run(workdir: Path, quick: bool = False) -> Result:
    import tensorflow as tf

    from trainer.text.demo_data import CLASSES, generate_messages
    from trainer.text.embedding_module import write_text_embedding_module
    from trainer.text.export import export_text_classifier
    from trainer.text.model import build_text_classifier

    count = 256 if quick else 1024
    messages = generate_messages(count, seed=1)
    texts = np.array([m["text"] for m in messages], dtype=object)
    labels = np.array([CLASSES.index(m["label"]) for m in messages])
    handle = str(write_text_embedding_module(workdir / "embed"))

    def model(eager: bool) -> tf.keras.Model:
        tf.keras.utils.set_random_seed(0)
        built = build_text_classifier(handle, len(CLASSES), hidden_units=32)
        built.compile(
            optimizer="adam",
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            run_eagerly=eager,
        )
        return built

    models = {
        "model.fit, tf.function (default)": model(False),
        "model.fit, run_eagerly": model(True),
    }
    for built in models.values():  # warm-up: tracing, first allocations
        built.fit(texts, labels, batch_size=BATCH_SIZE, epochs=1, verbose=0)
    seconds: dict[str, list[float]] = {label: [] for label in models}
    for round_ in range(ROUNDS):  # the two take turns, so outside load hits both alike
        for label, built in models.items():
            started = time.perf_counter()
            built.fit(texts, labels, batch_size=BATCH_SIZE, epochs=1, verbose=0)
            seconds[label].append(time.perf_counter() - started)
        print(f"[{NAME}] training round {round_ + 1}/{ROUNDS}: {seconds}", flush=True)
    rates = {label: count / statistics.median(s) for label, s in seconds.items()}
    eager_label = "model.fit, run_eagerly"
    graph_label = "model.fit, tf.function (default)"
    speedup = rates[graph_label] / rates[eager_label]

    export_text_classifier(models[graph_label], workdir / "model", list(CLASSES), {})
    serve = tf.saved_model.load(str(workdir / "model")).signatures["serving_default"]
    serving: dict[int, float] = {}
    for batch in SERVE_BATCHES:
        batches = [tf.constant(texts[i : i + batch].tolist()) for i in range(0, count, batch)]
        serve(text=batches[0])  # warm-up for this shape
        walls = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            for chunk in batches:
                serve(text=chunk)
            walls.append(time.perf_counter() - started)
        serving[batch] = count / statistics.median(walls)
        print(f"[{NAME}] serving batch {batch}: {serving[batch]:,.0f} texts/s", flush=True)

    rows = [
        ["training", label, f"{BATCH_SIZE}", f"{rate:,.0f}", f"{rate / rates[eager_label]:.2f}x"]
        for label, rate in rates.items()
    ]
    rows += [
        ["serving_default", "exported SavedModel", str(batch), f"{rate:,.0f}", ""]
        for batch, rate in serving.items()
    ]
    return Result(
        name=NAME,
        title=TITLE,
        method=(
            f"{count} generated support messages (trainer.text.demo_data), 3 classes. "
            "Training: build_text_classifier on the project's hashing hub module (64 dims, "
            "fine-tuned) + Dense(32) + softmax, one warm-up epoch each, then "
            f"{ROUNDS} timed epochs in which the two compilations take turns; examples/s is "
            "the median epoch. Serving: the exported model's serving_default on the same texts "
            f"in batches of {', '.join(map(str, SERVE_BATCHES))}, one warm-up call per batch "
            f"size, median of {ROUNDS} passes."
        ),
        columns=["what", "variant", "batch", "examples/s (median)", "vs eager"],
        rows=rows,
        headline=(
            f"tf.function {speedup:.1f}x eager ({rates[graph_label]:,.0f} vs "
            f"{rates[eager_label]:,.0f} examples/s); serving "
            + ", ".join(f"batch {b}: {r:,.0f}/s" for b, r in serving.items())
        ),
        target=TARGET,
        met=speedup > 1,
    )
