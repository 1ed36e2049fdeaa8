"""Benchmark 8: distributed training: 1 vs 2 workers, the all-reduce, and the custom loop's modes.

(a) Workers. The same small conv net, the same synthetic in-memory examples
and the same global batch are trained with model.fit by 1 worker (default
strategy) and by 2 workers (MultiWorkerMirroredStrategy over gRPC on
127.0.0.1), both started by `trainer.launch` so that process start-up is
alike. Each worker runs `python -m tests.bench.distributed_workers worker
OUT.json ...`: it creates `distribution_for("auto")` before any other
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

Part (a) lives in tests.bench.distributed_workers, part (b) in
tests.bench.distributed_custom_loop; this module runs both and writes the report.
"""

from __future__ import annotations

import os
import statistics
from pathlib import Path

from tests.bench.distributed_custom_loop import EAGER, GRAPH, VISION_BATCH, XLA, measure_custom_loop
from tests.bench.distributed_workers import GLOBAL_BATCH, IMAGE_SHAPE, measure_workers
from tests.bench.report import Result

NAME = "distributed_training"
TITLE = "8. Distributed training: 1 vs 2 workers, all-reduce; custom loop tf.function/XLA/eager"
TARGET = "custom loop tf.function > eager (>1x); worker scaling reported, not targeted"

# Vertex AI pool for the on-paper estimate.
MACHINES, GPUS_PER_MACHINE = 4, 4
LINK_GBIT_S = 10.0  # assumed bandwidth between machines


def run(workdir: Path, quick: bool = False) -> Result:
    cores = os.cpu_count() or 1
    workers_part = measure_workers(workdir, quick, prefix=f"[{NAME}]")
    loop_part = measure_custom_loop(workdir, quick, prefix=f"[{NAME}]")
    return _result(cores, quick, workers_part, loop_part)


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
