"""Benchmark 8 (a): 1 vs 2 workers with model.fit, and the cross-worker all-reduce.

`measure_workers` runs in the benchmark process and starts the workers with
`trainer.launch`; each worker is this module run as
`python -m tests.bench.distributed_workers worker OUT.json ...` (`main`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

from tests.bench.data import REPO
from tests.bench.training_step import epoch_timer_class

WORKER_MODULE = "tests.bench.distributed_workers"
IMAGE_SHAPE = (32, 32, 3)
CLASSES = 10
GLOBAL_BATCH = 64
SEED = 11
LAUNCH_TIMEOUT_S = 300


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


def measure_workers(workdir: Path, quick: bool, prefix: str) -> dict:
    """Rounds of 1- and 2-worker launches; `prefix` starts each progress line."""
    from trainer.launch import LaunchError, launch

    examples = 384 if quick else 1024
    epochs = 1 if quick else 2
    rounds = 1 if quick else 3
    reps = 5 if quick else 30
    runs: dict[int, list[dict]] = {1: [], 2: []}
    print(
        f"{prefix} (a) {examples} examples, global batch {GLOBAL_BATCH}, {rounds} round(s) of "
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
                            module=WORKER_MODULE,
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
                    f"{prefix} round {round_ + 1}/{rounds}, {workers} worker(s): "
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
        time_allreduce(strategy, shapes, allreduce_reps) if distribution.replicas > 1 else {}
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


def time_allreduce(strategy, shapes: list[list[int]], reps: int) -> dict[str, dict]:
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog=f"python -m {WORKER_MODULE}", description="one worker of benchmark 8 (a)"
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
