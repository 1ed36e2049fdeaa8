"""Benchmark 8: distributed training: 1 vs 2 workers, the all-reduce, and the custom loop's modes.

(a) Workers. The same small conv net, the same synthetic in-memory examples
and the same global batch are trained with model.fit by 1 worker (default
strategy) and by 2 workers (MultiWorkerMirroredStrategy over gRPC on
127.0.0.1), both started by `trainer.launch` so that process start-up is
alike. Each worker runs this module (`python -m tests.bench.distributed_training
worker OUT.json ...`): it creates `distribution_for("auto")` before any other
TensorFlow operation, trains one warm-up epoch, times the next epochs and, with
2 workers, times a cross-worker all-reduce (`ReplicaContext.all_reduce`, SUM)
of a scalar, of tensors shaped like the model's trainable weights (what every
training step sums), and of four times those. Launches of 1 and 2 workers
take turns, so outside load hits both alike.

Both workers share this machine's cores, so 2 workers cannot be faster than
one here: the measurement shows what synchronous data parallelism costs when
it buys no compute. The measured step time and all-reduce time (per byte and
per message) feed an on-paper estimate, stated with its assumptions, of how
the same step would scale on a Vertex AI pool of 4 machines x 4 GPUs.

(b) Custom loop. `trainer.distribution.custom_loop.train_custom_loop` trains the demo
vision classifier (the head stage: offline pretrained base, frozen) on
decoded images in memory, with the step as a tf.function, as a tf.function
compiled by XLA (jit_compile=True), and eagerly. Each call makes a new
tf.function, so its first step includes tracing (and XLA compilation); every
step is timed separately (a timestamp taken as the dataset hands out each
batch): the first step (tracing) is reported apart, the later ones give the
steady step time, and the call's wall time beyond its steps is its overhead.
Rounds alternate between the variants.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

from tests.bench.data import REPO
from tests.bench.report import Result
from tests.bench.training_step import epoch_timer_class

NAME = "distributed_training"
TITLE = "8. Distributed training: 1 vs 2 workers, all-reduce; custom loop tf.function/XLA/eager"
TARGET = "custom loop tf.function > eager (>1x); worker scaling reported, not targeted"

# (a) the worker job
IMAGE_SHAPE = (32, 32, 3)
CLASSES = 10
GLOBAL_BATCH = 64
SEED = 11
LAUNCH_TIMEOUT_S = 300
# Vertex AI pool for the on-paper estimate.
MACHINES, GPUS_PER_MACHINE = 4, 4
LINK_GBIT_S = 10.0  # assumed bandwidth between machines

# (b) the custom loop on the vision model
VISION_BATCH = 32
GRAPH = "tf.function"
XLA = "tf.function, jit_compile=True (XLA)"
EAGER = "eager (use_tf_function=False)"


@contextlib.contextmanager
def _repo_on_pythonpath() -> Iterator[None]:
    """Workers run `python -m tests.bench...`: make that importable from any directory."""
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), old) if p)
    try:
        yield
    finally:
        if old is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = old


def run(workdir: Path, quick: bool = False) -> Result:
    cores = os.cpu_count() or 1
    workers_part = _measure_workers(workdir, quick)
    loop_part = _measure_custom_loop(workdir, quick)
    return _result(cores, quick, workers_part, loop_part)


# ---------------------------------------------------------------- (a) workers


def _measure_workers(workdir: Path, quick: bool) -> dict:
    from trainer.launch import LaunchError, launch

    examples = 384 if quick else 1024
    epochs = 1 if quick else 2
    rounds = 1 if quick else 3
    reps = 5 if quick else 30
    runs: dict[int, list[dict]] = {1: [], 2: []}
    print(
        f"[{NAME}] (a) {examples} examples, global batch {GLOBAL_BATCH}, {rounds} round(s) of "
        f"1-worker and 2-worker launches, {epochs} timed epoch(s) each after a warm-up epoch",
        flush=True,
    )
    with _repo_on_pythonpath():
        for round_ in range(rounds):
            for workers in (1, 2):  # the two take turns, so outside load hits both alike
                out = workdir / f"workers{workers}-round{round_}.json"
                log_path = workdir / f"workers{workers}-round{round_}.log"
                args = ["worker", str(out), f"--examples={examples}", f"--epochs={epochs}"]
                args.append(f"--allreduce-reps={reps}")
                started = time.perf_counter()
                with open(log_path, "w") as log:
                    try:
                        launch(
                            workers,
                            args,
                            module=f"tests.bench.{NAME}",
                            timeout_s=LAUNCH_TIMEOUT_S,
                            output=log,
                        )
                    except LaunchError as exc:
                        tail = "".join(log_path.read_text().splitlines(keepends=True)[-30:])
                        raise RuntimeError(
                            f"{workers}-worker launch failed: {exc}\n{tail}"
                        ) from None
                measured = json.loads(out.read_text())
                measured["launch_s"] = time.perf_counter() - started
                runs[workers].append(measured)
                print(
                    f"[{NAME}] round {round_ + 1}/{rounds}, {workers} worker(s): "
                    f"{measured['examples_per_s']:,.0f} examples/s, "
                    f"{1000 * measured['step_s']:.1f} ms/step; launch {measured['launch_s']:.1f} s "
                    f"(strategy ready after {measured['ready_s']:.1f} s, warm-up epoch "
                    f"{measured['warm_up_s']:.1f} s)",
                    flush=True,
                )
    return {"examples": examples, "epochs": epochs, "rounds": rounds, "reps": reps, "runs": runs}


def worker(out: Path, examples: int, epochs: int, allreduce_reps: int) -> None:
    """One worker of part (a); the chief writes what it measured to `out` as JSON."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    started = time.perf_counter()
    from trainer.distribution.strategy import distribution_for

    distribution = distribution_for("auto")  # first: MWMS sets up collectives at creation
    import tensorflow as tf

    from trainer.distribution.sharding import shard_by_data

    strategy = distribution.strategy
    ready = time.perf_counter() - started
    images = tf.random.stateless_uniform([examples, *IMAGE_SHAPE], seed=[SEED, 0])
    labels = tf.random.stateless_uniform([examples], [SEED, 1], maxval=CLASSES, dtype=tf.int64)
    dataset = shard_by_data(
        tf.data.Dataset.from_tensor_slices((images, labels))
        .batch(GLOBAL_BATCH, drop_remainder=True)
        .cache()
        .prefetch(tf.data.AUTOTUNE),
        "synthetic examples",
    )
    steps = examples // GLOBAL_BATCH
    with strategy.scope():
        tf.keras.utils.set_random_seed(SEED)
        model = tf.keras.Sequential(
            [
                tf.keras.Input(IMAGE_SHAPE),
                tf.keras.layers.Conv2D(32, 3, activation="relu"),
                tf.keras.layers.MaxPooling2D(),
                tf.keras.layers.Conv2D(64, 3, activation="relu"),
                tf.keras.layers.MaxPooling2D(),
                tf.keras.layers.Flatten(),
                tf.keras.layers.Dense(128, activation="relu"),
                tf.keras.layers.Dense(CLASSES, activation="softmax"),
            ]
        )
        model.compile(tf.keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy")

    warm = time.perf_counter()
    model.fit(dataset, epochs=1, verbose=0)  # tracing, cache filling, first collectives
    warm_up_s = time.perf_counter() - warm
    timer = epoch_timer_class()()
    timed = time.perf_counter()
    model.fit(dataset, epochs=epochs, verbose=0, callbacks=[timer])
    timed_s = time.perf_counter() - timed

    shapes = [v.shape.as_list() for v in model.trainable_variables]
    weight_bytes = sum(4 * v.shape.num_elements() for v in model.trainable_variables)
    allreduce = (
        _time_allreduce(strategy, shapes, allreduce_reps) if distribution.replicas > 1 else {}
    )
    if distribution.is_chief:
        result = {
            "workers": distribution.cluster.workers,
            "replicas": distribution.replicas,
            "strategy": distribution.choice.kind,
            "examples": examples,
            "steps_per_epoch": steps,
            "epochs": epochs,
            "epoch_s": timer.seconds,
            "examples_per_s": examples * epochs / timed_s,
            "step_s": timed_s / (steps * epochs),
            "ready_s": ready,
            "warm_up_s": warm_up_s,
            "parameters": int(sum(v.shape.num_elements() for v in model.trainable_variables)),
            "weight_bytes": weight_bytes,
            "allreduce": allreduce,
        }
        Path(out).write_text(json.dumps(result))


def _time_allreduce(strategy, shapes: list[list[int]], reps: int) -> dict[str, dict]:
    """Median seconds of a SUM all-reduce across the workers, by payload; the sizes take turns."""
    import tensorflow as tf

    # "4x weights": the same tensors, each four times as long, so the per-tensor costs match.
    bigger = [[4 * shape[0], *shape[1:]] for shape in shapes]
    payloads = {"scalar": [[1]], "weights": shapes, "4x weights": bigger}

    def reducer(tensors: list):
        def replica_fn():
            context = tf.distribute.get_replica_context()
            reduced = context.all_reduce(tf.distribute.ReduceOp.SUM, tensors)
            # One element of each result: the caller waits for every reduction, cheaply.
            return tf.add_n([tf.reshape(t, [-1])[0] for t in reduced])

        return tf.function(lambda: strategy.run(replica_fn))

    functions = {
        label: reducer([tf.ones(shape) for shape in group]) for label, group in payloads.items()
    }
    seconds: dict[str, list[float]] = {label: [] for label in payloads}
    for rep in range(reps + 3):
        for label, function in functions.items():
            start = time.perf_counter()
            for value in strategy.experimental_local_results(function()):
                value.numpy()
            if rep >= 3:  # the first three: tracing, collective set-up
                seconds[label].append(time.perf_counter() - start)
    return {
        label: {
            "bytes": 4 * sum(int(tf.TensorShape(s).num_elements()) for s in payloads[label]),
            "tensors": len(payloads[label]),
            "median_s": statistics.median(values),
            "min_s": min(values),
            "max_s": max(values),
        }
        for label, values in seconds.items()
    }


# ----------------------------------------------------------- (b) custom loop


def _measure_custom_loop(workdir: Path, quick: bool) -> dict:
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
        f"[{NAME}] (b) {steps} steps of batch {VISION_BATCH} ({BASE_MODEL}, {IMAGE_SIZE} px, "
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
                print(f"[{NAME}] {label} failed: {errors[label]}", flush=True)
                continue
            call_s[label].append(time.perf_counter() - started)
            # Step i runs from batch i's timestamp to batch i+1's. The last step has no
            # next timestamp (what follows it is the end of the call), so it is left out.
            durations = [end - begin for begin, end in itertools.pairwise(stamps)]
            first_s[label].append(durations[0])
            step_s[label].extend(durations[1:])
        print(
            f"[{NAME}] round {round_ + 1}/{rounds}: "
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


# ------------------------------------------------------------------ the result


def _result(cores: int, quick: bool, workers_part: dict, loop_part: dict) -> Result:
    runs = workers_part["runs"]
    one, two = runs[1], runs[2]
    rate1 = statistics.median(r["examples_per_s"] for r in one)
    rate2 = statistics.median(r["examples_per_s"] for r in two)
    step1 = statistics.median(r["step_s"] for r in one)
    step2 = statistics.median(r["step_s"] for r in two)
    scaling = rate2 / rate1
    params, weight_bytes = one[0]["parameters"], one[0]["weight_bytes"]

    def allreduce(label: str, key: str = "median_s") -> float:
        return statistics.median(r["allreduce"][label][key] for r in two)

    ar_scalar, ar_weights, ar_4x = (allreduce(k) for k in ("scalar", "weights", "4x weights"))
    ar_bytes = two[0]["allreduce"]["4x weights"]["bytes"]
    # Per byte: the slope from the weights to 4x (same tensor count: the fixed costs cancel).
    per_byte = max(ar_4x - ar_weights, 1e-12) / (ar_bytes - weight_bytes)
    loopback_mb_s = 1 / per_byte / 1e6

    # On paper: ring all-reduce over N replicas, per-replica batch = this benchmark's batch.
    n = MACHINES * GPUS_PER_MACHINE
    link = LINK_GBIT_S * 1e9 / 8  # bytes/s
    latency_step = ar_scalar / 2  # a 2-replica ring takes 2 (N-1) = 2 steps
    bandwidth_term = 2 * (n - 1) / n * weight_bytes / link
    latency_term = 2 * (n - 1) * latency_step
    compute = step1  # one replica's step at batch GLOBAL_BATCH, CPU-measured (speed-up s = 1)
    # (label, t_allreduce): with the measured per-step latency, and bandwidth only (l = 0).
    cases = [
        (f"l = {1e3 * latency_step:.2f} ms (measured)", bandwidth_term + latency_term),
        ("l = 0 (bandwidth only)", bandwidth_term),
    ]

    def scaling_of(t_ar: float) -> tuple[float, float]:
        """(speed-up of N replicas over one at s = 1, the s at which efficiency is 50%)."""
        return n * compute / (compute + t_ar), compute / t_ar

    outcomes = []
    for label, t_ar in cases:
        speedup, s_half = scaling_of(t_ar)
        outcomes.append(
            f"with {label}: t_allreduce = {1e3 * t_ar:.2f} ms, speed-up {speedup:.1f}x of {n} "
            f"({100 * speedup / n:.0f}% efficiency), efficiency 1 / (1 + s * "
            f"{t_ar / compute:.4f}), 50% at s = {s_half:,.{0 if s_half >= 10 else 1}f}"
        )
    estimate = (
        f"Estimate (on paper, NOT measured) for a Vertex AI pool of {MACHINES} machines x "
        f"{GPUS_PER_MACHINE} GPUs, N = {n} replicas, {GLOBAL_BATCH} examples per replica "
        "(batch_size is per replica in this project). Model: ring all-reduce, in which each "
        "replica sends and receives 2(N-1)/N of the G gradient bytes in 2(N-1) steps, so "
        "t_allreduce = 2(N-1)/N * G / B + 2(N-1) * l; step time T_N = c / s + t_allreduce, "
        "with no overlap of compute and communication (pessimistic); speed-up over one replica "
        "= N * (c / s) / (c / s + t_allreduce), efficiency = speed-up / N. "
        f"Inputs: G = {weight_bytes / 1e6:.2f} MB ({params:,} float32 weights, measured); "
        f"B = {LINK_GBIT_S:g} Gbit/s between machines (ASSUMED: the inter-machine link bounds "
        "a ring that spans machines; NVLink/PCIe inside a machine is faster), giving "
        f"{1e3 * bandwidth_term:.2f} ms of bandwidth term; l = latency per ring step, either "
        "the measured 2-worker scalar all-reduce / 2 on loopback gRPC (pessimistic: a busy "
        "2-core machine) or 0 (optimistic); c = "
        f"{1e3 * compute:.1f} ms (the measured 1-worker step on {cores} CPU cores); s = the "
        "GPU's compute speed-up over these cores, NOT measured (no GPU here), so the figures "
        "are for s = 1, i.e. CPU-speed replicas. Results: "
        + "; ".join(outcomes)
        + ". A GPU makes c / s small, so the same all-reduce weighs more: past the 50% point "
        "this small model is communication-bound, and larger per-replica batches or more "
        "compute per gradient byte scale better."
    )

    rows: list[list[str]] = []
    for workers, group, rate, step in ((1, one, rate1, step1), (2, two, rate2, step2)):
        rates = [r["examples_per_s"] for r in group]
        rows.append(
            [
                "(a) model.fit",
                f"{workers} worker{'s' if workers > 1 else ''} ({group[0]['strategy']}), "
                f"global batch {GLOBAL_BATCH} ({GLOBAL_BATCH // workers}/worker)",
                f"{rate:,.0f} examples/s",
                f"{1000 * step:.1f} ms/step; runs {min(rates):,.0f}-{max(rates):,.0f}/s; "
                f"launch {statistics.median(r['launch_s'] for r in group):.0f} s",
                f"{rate / rate1:.2f}x",
            ]
        )
    for label in ("scalar", "weights", "4x weights"):
        info = two[0]["allreduce"][label]
        rows.append(
            [
                "(a) all-reduce, 2 workers",
                f"{label}: {info['bytes'] / 1e6:.3f} MB in {info['tensors']} tensor(s)",
                f"{1000 * allreduce(label):.2f} ms",
                f"best {1000 * allreduce(label, 'min_s'):.2f} ms, "
                f"worst {1000 * allreduce(label, 'max_s'):.2f} ms (medians over runs)",
                "",
            ]
        )
    rows.append(
        [
            "(a) all-reduce, per byte",
            "slope weights -> 4x weights",
            f"{1e9 * per_byte:.2f} ns/byte",
            f"{loopback_mb_s:,.0f} MB/s on loopback gRPC",
            "",
        ]
    )
    for label, t_ar in cases:
        speedup, s_half = scaling_of(t_ar)
        rows.append(
            [
                "(a) estimate, NOT measured",
                f"{MACHINES} machines x {GPUS_PER_MACHINE} GPUs, {LINK_GBIT_S:g} Gbit/s "
                f"(assumed), s = 1, {label}",
                f"{speedup:.1f}x of {n}",
                f"t_allreduce {1e3 * t_ar:.2f} ms vs compute {1e3 * compute:.1f} ms/step; "
                f"50% efficiency at s = {s_half:,.{0 if s_half >= 10 else 1}f}",
                f"{speedup / n:.2f} efficiency",
            ]
        )

    steps, first, errors = loop_part["step_s"], loop_part["first_s"], loop_part["errors"]
    ms = {label: 1000 * statistics.median(v) for label, v in steps.items() if v}
    reference = ms.get(GRAPH)
    for label in (GRAPH, XLA, EAGER):
        if label not in ms:
            error = errors.get(label, "no step measured")
            rows.append(["(b) custom loop", label, "failed", error, ""])
            continue
        values = [1000 * v for v in steps[label]]
        # Everything in a call beyond its steps at the median step time: tracing, compiling,
        # leaving the loop and releasing the call's tf.function.
        overheads = [c - loop_part["steps"] * ms[label] / 1000 for c in loop_part["call_s"][label]]
        ratio = f"{ms[label] / reference:.2f}x the tf.function step" if reference else ""
        rows.append(
            [
                "(b) custom loop",
                label,
                f"{ms[label]:.1f} ms/step",
                f"steps {min(values):.1f}-{max(values):.1f} ms; first step of a call "
                f"{statistics.median(first[label]):.2f} s"
                + {GRAPH: " (trace)", XLA: " (trace + XLA compile)"}.get(label, "")
                + f"; per-call overhead {statistics.median(overheads):.2f} s "
                f"(most {max(overheads):.2f} s)",
                ratio,
            ]
        )
    graph_vs_eager = ms[EAGER] / ms[GRAPH] if GRAPH in ms and EAGER in ms else None
    xla_text = (
        f"XLA {ms[GRAPH] / ms[XLA]:.2f}x tf.function"
        if XLA in ms and GRAPH in ms
        else f"XLA failed ({errors.get(XLA, 'not measured')})"
    )
    headline = (
        f"2 workers {scaling:.2f}x 1 worker on {cores} cores (no speed-up possible here); "
        + (f"tf.function {graph_vs_eager:.1f}x eager; " if graph_vs_eager else "")
        + xla_text
    )
    notes = [
        f"This machine has os.cpu_count() = {cores} cores. Both workers run on them, so 2 "
        "workers split the same compute over the same cores and add gradient all-reduces, "
        "process and thread contention on top: they cannot scale here, and "
        f"{scaling:.2f}x (2 workers vs 1, same global batch) says what the synchronisation "
        "costs, not what more machines would give.",
        f"The all-reduce runs over gRPC on 127.0.0.1 between processes that share {cores} "
        f"cores; its per-byte figure ({loopback_mb_s:,.0f} MB/s) is memory copies and "
        "serialisation, not a network. The scalar all-reduce is the fixed cost per collective.",
        estimate,
        "Part (b) runs in the benchmark process with the default strategy (one device). "
        "train_custom_loop makes a new tf.function per call, so each call traces (and with "
        "jit_compile, compiles) again; that cost is the 'first step' figure, kept out of the "
        "step times. The per-call overhead is the call's wall time minus its steps at the "
        "median step time: tracing, compiling and the end of the call (leaving the loop, "
        "releasing the call's tf.function, any garbage collection). Training runs of many "
        "steps per call amortise it; short calls do not. Eager with jit_compile is not a "
        "variant: jit_compile only applies to a tf.function.",
    ]
    if XLA in ms and GRAPH in ms:
        notes.append(
            f"jit_compile=True compiled and ran on CPU (no op failed); its steady step was "
            f"{ms[XLA] / ms[GRAPH]:.2f}x the plain tf.function step here, after "
            f"{statistics.median(first[XLA]):.1f} s for the first step (trace + compile) of "
            "each call. On CPU, XLA replaces TensorFlow's own (oneDNN) kernels with code it "
            "generates, so it is not a given that it is faster; measure on the target device."
        )
    if errors:
        notes.append("Failed: " + "; ".join(f"{k}: {v}" for k, v in errors.items()))
    a = workers_part
    b = loop_part
    method = (
        f"Measured on {cores} CPU cores (os.cpu_count()). (a) A conv net ({params:,} weights: "
        "Conv2D 32 + pool, Conv2D 64 + pool, Dense 128, Dense 10; SGD) on "
        f"{a['examples']} synthetic {IMAGE_SHAPE[0]}x{IMAGE_SHAPE[1]}x{IMAGE_SHAPE[2]} examples "
        f"in memory, global batch {GLOBAL_BATCH} (shard_by_data), trained with model.fit by "
        "workers started by trainer.launch: 1 worker (default strategy) or 2 workers "
        "(MultiWorkerMirroredStrategy, gRPC on 127.0.0.1). Each launch trains a warm-up epoch, "
        f"then {a['epochs']} timed epoch(s); examples/s is the chief's timed examples over "
        f"their wall time, the median over {a['rounds']} launch(es) per worker count, the "
        "1- and 2-worker launches taking turns. After training, the 2 workers time a SUM "
        f"all-reduce (ReplicaContext.all_reduce in strategy.run) {a['reps']} times per "
        "payload, payloads taking turns, after 3 warm-up calls. (b) train_custom_loop on the "
        f"demo classifier ({b['base']} base frozen, {b['image_size']} px, Adam, batch "
        f"{VISION_BATCH}) over {b['steps']} in-memory batches of decoded demo digits per call; "
        f"{b['rounds']} round(s) in which each variant makes one call; each step is timed "
        "from one batch request to the next, the first step of each call (tracing) "
        "separately, the last (no next request) not at all; ms/step is the median over the "
        "steps between."
    )
    if quick:
        method += " (--quick: tiny sizes, one round; for checking, not citing.)"
    return Result(
        name=NAME,
        title=TITLE,
        method=method,
        columns=["part", "variant", "measured (median)", "spread / detail", "vs reference"],
        rows=rows,
        headline=headline,
        target=TARGET,
        met=graph_vs_eager > 1 if graph_vs_eager else None,
        notes=notes,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog=f"python -m tests.bench.{NAME}", description="one worker of benchmark 8 (a)"
    )
    parser.add_argument("role", choices=["worker"])
    parser.add_argument("out", type=Path, help="where the chief writes its JSON")
    parser.add_argument("--examples", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--allreduce-reps", type=int, default=30)
    args = parser.parse_args(argv)
    worker(args.out, args.examples, args.epochs, args.allreduce_reps)


if __name__ == "__main__":
    main()
