"""Benchmark 8 (b): the custom loop's step as a tf.function, compiled by XLA, and eager."""

from __future__ import annotations

import itertools
import statistics
import time
from pathlib import Path

VISION_BATCH = 32
GRAPH = "tf.function"
XLA = "tf.function, jit_compile=True (XLA)"
EAGER = "eager (use_tf_function=False)"


def measure_custom_loop(workdir: Path, quick: bool, prefix: str) -> dict:
    """Rounds of one call per variant; `prefix` starts each progress line."""
    import numpy as np
    import tensorflow as tf

    from pipelines.vision.demo import BASE_MODEL, IMAGE_SIZE
    from tests.bench.data import class_folder_files, pretrained_weights
    from trainer.distribution.custom_loop import train_custom_loop
    from trainer.vision.dataset import make_dataset
    from trainer.vision.demo_data import CASE_STUDY_DIGITS, write_digit_folders
    from trainer.vision.model import build_base, build_classifier

    weights = str(pretrained_weights())
    digits = CASE_STUDY_DIGITS[:2] if quick else CASE_STUDY_DIGITS
    write_digit_folders(workdir / "digits", digits)
    paths, labels = class_folder_files(workdir / "digits")
    decoded = make_dataset(paths, labels, IMAGE_SIZE, len(paths), training=False, cache=False)
    images, targets = next(iter(decoded))  # one batch holding every decoded image
    steps = min(len(paths) // VISION_BATCH, 6 if quick else 20)
    rounds = 1 if quick else 3

    stamps: list[float] = []

    def now() -> np.int64:
        stamps.append(time.perf_counter())
        return np.int64(0)

    def mark(features: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with tf.control_dependencies([tf.py_function(now, [], tf.int64)]):
            return tf.identity(features), tf.identity(labels)

    # Full batches only (one shape, one trace); no prefetch, so each timestamp is taken
    # when the loop asks for the next batch, i.e. when the previous step has finished.
    options = tf.data.Options()
    options.experimental_optimization.inject_prefetch = False
    dataset = (
        tf.data.Dataset.from_tensor_slices((images, targets))
        .batch(VISION_BATCH, drop_remainder=True)
        .take(steps)
        .cache()
        .map(mark)
        .with_options(options)
    )
    strategy = tf.distribute.get_strategy()
    loss = tf.keras.losses.SparseCategoricalCrossentropy(reduction="none")
    flags = {
        GRAPH: {"use_tf_function": True, "jit_compile": False},
        XLA: {"use_tf_function": True, "jit_compile": True},
        EAGER: {"use_tf_function": False, "jit_compile": False},
    }
    tf.keras.utils.set_random_seed(0)
    models = {}
    for label in flags:
        with strategy.scope():
            base = build_base(BASE_MODEL, weights, IMAGE_SIZE)
            model = build_classifier(base, BASE_MODEL, len(digits), IMAGE_SIZE)
            optimizer = tf.keras.optimizers.Adam(0.002)
            # Slots now: a tf.function that creates variables traces again on its second call.
            optimizer.build(model.trainable_variables)
            models[label] = (model, optimizer)
    print(
        f"{prefix} (b) {steps} steps of batch {VISION_BATCH} ({BASE_MODEL}, {IMAGE_SIZE} px, "
        f"frozen base) per call, {rounds} round(s) of one call per variant",
        flush=True,
    )
    step_s: dict[str, list[float]] = {label: [] for label in flags}
    first_s: dict[str, list[float]] = {label: [] for label in flags}
    call_s: dict[str, list[float]] = {label: [] for label in flags}
    errors: dict[str, str] = {}
    for round_ in range(rounds):
        for label, kwargs in flags.items():
            if label in errors:
                continue
            model, optimizer = models[label]
            stamps.clear()
            started = time.perf_counter()
            try:
                train_custom_loop(strategy, model, optimizer, loss, dataset, 1, **kwargs)
            except Exception as exc:  # e.g. an op XLA cannot compile on CPU: report it
                first_line = (str(exc).strip().splitlines() or [""])[0]
                errors[label] = f"{type(exc).__name__}: {first_line[:200]}"
                print(f"{prefix} {label} failed: {errors[label]}", flush=True)
                continue
            call_s[label].append(time.perf_counter() - started)
            # Step i runs from batch i's timestamp to batch i+1's. The last step has no
            # next timestamp (what follows it is the end of the call), so it is left out.
            durations = [end - begin for begin, end in itertools.pairwise(stamps)]
            first_s[label].append(durations[0])
            step_s[label].extend(durations[1:])
        print(
            f"{prefix} round {round_ + 1}/{rounds}: "
            + ", ".join(
                f"{label}: {1000 * statistics.median(step_s[label]):.1f} ms/step"
                for label in flags
                if step_s[label]
            ),
            flush=True,
        )
    return {
        "images": len(paths),
        "steps": steps,
        "rounds": rounds,
        "base": BASE_MODEL,
        "image_size": IMAGE_SIZE,
        "step_s": step_s,
        "first_s": first_s,
        "call_s": call_s,
        "errors": errors,
    }
