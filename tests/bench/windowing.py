"""Benchmark: windows/s of the time-series input pipeline vs a naive Python loop.

All builders cut the same windows (48 steps of 2 features, horizon 1 or 24) out of one
synthetic hourly series and deliver them in batches of 256:
trainer.timeseries.windowing.windowed_dataset (tf.data, one vectorised gather per batch), the peer a
user would reach for (tf.keras.utils.timeseries_dataset_from_array, one slice per window),
the naive loop (window_arrays_loop: one numpy slice per window, then batches) and the
vectorised numpy build (window_arrays: fancy indexing, then batches).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from tests.bench.interleaved import interleaved_rounds
from tests.bench.report import Result

NAME = "windowing"
TITLE = "5. Time-series windowing throughput"
# The bar is parity: a streaming pipeline that shuffles every epoch should cost no throughput
# against materialising every window with a Python loop (vectorised numpy is faster still, at
# 48x the memory; see the notes).
TARGET = ">= 1x the naive loop"
BATCH_SIZE = 256
WINDOW = 48
HORIZONS = (1, 24)
ROUNDS = 3
PRIMARY = "tf.data windowed_dataset (shuffle=False)"
IN_GRAPH = "tf.data windowed_dataset, read in-graph (Dataset.reduce, as model.fit reads it)"
NAIVE = "naive loop: window_arrays_loop, numpy batches"
NUMPY = "numpy: window_arrays (vectorised), numpy batches"


def synthetic_series(points: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Hourly values with daily and weekly cycles plus noise; 1% of the points flagged imputed."""
    rng = np.random.default_rng(seed)
    hours = np.arange(points)
    values = (
        10
        + 3 * np.sin(2 * np.pi * hours / 24)
        + np.sin(2 * np.pi * hours / (24 * 7))
        + rng.normal(0, 0.5, points)
    )
    return values.astype(np.float32), rng.random(points) < 0.01


def _content_order(inputs: np.ndarray) -> np.ndarray:
    """An order of windows that depends on their values only (lexicographic, first step first)."""
    flat = inputs.reshape(len(inputs), -1)
    return np.lexsort(flat.T[::-1])


def run(workdir: Path, quick: bool = False) -> Result:
    import tensorflow as tf

    from trainer.timeseries.windowing import (
        Normalizer,
        WindowSpec,
        features,
        window_arrays,
        window_arrays_loop,
        windowed_dataset,
    )

    points = 10_000 if quick else 100_000
    values, imputed = synthetic_series(points)
    normalizer = Normalizer.fit(values[: int(points * 0.8)])
    feats = features(values, imputed, normalizer)
    targets = normalizer.normalize(values)

    def batches(inputs: np.ndarray, outputs: np.ndarray) -> Iterable:
        for start in range(0, len(inputs), BATCH_SIZE):
            yield inputs[start : start + BATCH_SIZE], outputs[start : start + BATCH_SIZE]

    def peer(spec: WindowSpec) -> tf.data.Dataset:
        # One array of [features, target] and windows of window + horizon steps, split after.
        combined = np.concatenate([feats, targets[:, None]], axis=1)
        ds = tf.keras.utils.timeseries_dataset_from_array(
            combined,
            None,
            sequence_length=spec.length,
            sequence_stride=spec.stride,
            batch_size=BATCH_SIZE,
            shuffle=False,
        )
        width = feats.shape[1]
        return ds.map(
            lambda w: (w[:, : spec.window, :width], w[:, spec.window :, width]),
            num_parallel_calls=tf.data.AUTOTUNE,
        ).prefetch(tf.data.AUTOTUNE)

    rows, ratios, in_graph_ratios, numpy_ratios = [], {}, {}, {}
    for horizon in HORIZONS:
        spec = WindowSpec(WINDOW, horizon=horizon)
        expected = window_arrays(feats, targets, spec, 0, points)
        count = len(expected[0])
        loaders: dict[str, Callable[[], Iterable]] = {
            PRIMARY: lambda s=spec: windowed_dataset(
                feats, targets, s, 0, points, batch_size=BATCH_SIZE
            ),
            IN_GRAPH: lambda s=spec: [
                _read_in_graph(
                    windowed_dataset(feats, targets, s, 0, points, batch_size=BATCH_SIZE)
                )
            ],
            "tf.data windowed_dataset (shuffle=True)": lambda s=spec: windowed_dataset(
                feats, targets, s, 0, points, batch_size=BATCH_SIZE, shuffle=True
            ),
            "peer: timeseries_dataset_from_array": lambda s=spec: peer(s),
            NAIVE: lambda s=spec: batches(*window_arrays_loop(feats, targets, s, 0, points)),
            NUMPY: lambda s=spec: batches(*window_arrays(feats, targets, s, 0, points)),
        }
        for label, make in loaders.items():  # warm-up pass; checks every loader's windows
            if label == IN_GRAPH:  # yields only the count of windows it read
                if make()[0] != count:
                    raise RuntimeError(f"{label} (horizon {horizon}) read {make()[0]} windows")
                continue
            got = [(np.asarray(x), np.asarray(y)) for x, y in make()]
            inputs = np.concatenate([x for x, _ in got])
            outputs = np.concatenate([y for _, y in got])
            want_inputs, want_outputs = expected
            if "shuffle=True" in label:  # the same windows in another order: sort both alike
                mine, theirs = _content_order(inputs), _content_order(want_inputs)
                inputs, outputs = inputs[mine], outputs[mine]
                want_inputs, want_outputs = want_inputs[theirs], want_outputs[theirs]
            if not (np.array_equal(inputs, want_inputs) and np.array_equal(outputs, want_outputs)):
                raise RuntimeError(f"{label} (horizon {horizon}) built different windows")
            if max(len(x) for x, _ in got) != BATCH_SIZE:
                raise RuntimeError(f"{label} did not batch by {BATCH_SIZE}")
        walls, cpus = interleaved_rounds(
            loaders, ROUNDS, count, f"[{NAME}] horizon {horizon} round", "windows/s"
        )
        rates = {k: count / statistics.median(v) for k, v in walls.items()}
        ratios[horizon] = rates[PRIMARY] / rates[NAIVE]
        in_graph_ratios[horizon] = rates[IN_GRAPH] / rates[NAIVE]
        numpy_ratios[horizon] = rates[PRIMARY] / rates[NUMPY]
        for label, rate in rates.items():
            rows.append(
                [
                    str(horizon),
                    f"{count:,}",
                    label,
                    f"{rate:,.0f}",
                    f"{sum(cpus[label]) / sum(walls[label]):.2f}",
                    f"{rate / rates[NAIVE]:.2f}x",
                    f"{rate / rates[NUMPY]:.2f}x",
                ]
            )

    window_bytes = (WINDOW * feats.shape[1] + max(HORIZONS)) * 4
    point_bytes = (feats.shape[1] + 1) * 4
    return Result(
        name=NAME,
        title=TITLE,
        method=(
            f"A synthetic hourly series of {points:,} points (daily and weekly cycles plus "
            "noise, 1% flagged as imputed) is normalised into 2 features. For each horizon, "
            f"every builder produces all windows of {WINDOW} input steps (stride 1) in "
            f"batches of {BATCH_SIZE} once as warm-up, where its windows are checked against "
            f"window_arrays, then {ROUNDS} timed rounds in which the builders take turns. "
            "Each round starts from the series, so array builders pay for building their "
            "arrays and tf.data pipelines for a full pass. windows/s is the median round. "
            "'CPU cores busy' is this process's CPU time divided by wall time."
        ),
        columns=[
            "horizon",
            "windows",
            "builder",
            "windows/s (median)",
            "CPU cores busy",
            "vs naive loop",
            "vs vectorised numpy",
        ],
        rows=rows,
        headline=(
            "windowed_dataset vs naive loop: "
            + ", ".join(f"horizon {h} {r:.1f}x" for h, r in ratios.items())
            + " iterated from Python, "
            + ", ".join(f"horizon {h} {r:.1f}x" for h, r in in_graph_ratios.items())
            + " read in-graph as model.fit does"
            + " (vs vectorised numpy: "
            + ", ".join(f"horizon {h} {r:.2f}x" for h, r in numpy_ratios.items())
            + ")"
        ),
        target=TARGET,
        met=all(r >= 1 for r in ratios.values()),
        notes=[
            "The numpy builders hold every window at once: about "
            f"{window_bytes * points / 2**20:.0f} MiB for horizon {max(HORIZONS)} here "
            f"({window_bytes} bytes a window), {window_bytes // point_bytes}x the series itself "
            f"({point_bytes} bytes a point: features and target). windowed_dataset "
            "holds the series and one int64 start index per window, and gathers a batch at a "
            "time, which is what lets it shuffle every epoch without copying windows.",
            "timeseries_dataset_from_array slices one window per dataset element; "
            "windowed_dataset gathers a whole batch with one tf.gather, which is why it "
            "implements its own windows rather than using the Keras utility.",
            "Iterating a tf.data pipeline from Python costs a fixed time per batch (the "
            "iterator, the map call, two EagerTensors), whatever the batch holds; with "
            f"{BATCH_SIZE} windows a batch that overhead, more than the gather, sets "
            "windowed_dataset's rate here. model.fit reads its batches inside its compiled "
            "train function instead.",
        ],
    )


def _read_in_graph(ds) -> int:
    """Read every batch inside TensorFlow (no Python per batch); the number of windows."""
    import tensorflow as tf

    @tf.autograph.experimental.do_not_convert
    def add(total, batch):
        return total + tf.shape(batch[0], out_type=tf.int64)[0]

    return int(ds.reduce(tf.constant(0, tf.int64), add))
