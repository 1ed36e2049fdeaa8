"""Which tf.distribute strategy trains, and what it changes: batch size, learning rate, writers.

Chosen from the environment unless a config's `strategy` names one:

- TPUStrategy when a TPU is configured (TPU_NAME; "local" on a TPU VM). It
  cannot run on the machines this project is tested on; the code path is
  the one TensorFlow documents, kept small.
- MultiWorkerMirroredStrategy when TF_CONFIG (or Vertex AI's CLUSTER_SPEC)
  lists more than one worker: `trainer.launch` locally, a custom job with
  replica_count > 1 on Vertex AI.
- MirroredStrategy when more than one GPU is visible.
- The default strategy (one device) otherwise.

`batch_size` in every training config is per replica: the global batch is
batch_size x replicas in sync, and the learning rate is scaled by the rule in
`learning_rate_scaling` ("linear", the rule of Goyal et al. 2017 for large
minibatch SGD; "sqrt", often better for Adam; or "none"). Only the chief
writes the model and TensorBoard logs to the real locations; other workers
write into temporary directories that are removed (`Distribution.writer_dir`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

from serving.contracts.errors import InputError
from trainer.distribution.cluster import Cluster, ensure_tf_config, read_cluster

log = logging.getLogger(__name__)

TPU_VARIABLE = "TPU_NAME"

_CLASS_NAMES = {
    "default": "default strategy (one device)",
    "mirrored": "MirroredStrategy",
    "multi_worker": "MultiWorkerMirroredStrategy",
    "tpu": "TPUStrategy",
}


@dataclass(frozen=True)
class StrategyChoice:
    kind: str  # one of STRATEGIES but "auto"
    reason: str


def choose_strategy(requested: str, cluster: Cluster, gpus: int, tpu: str) -> StrategyChoice:
    """The strategy for `requested` ("auto" or a kind) given what this process can see."""
    if requested == "auto":
        if tpu:
            return StrategyChoice("tpu", f"{TPU_VARIABLE}={tpu} names a TPU")
        if cluster.workers > 1:
            return StrategyChoice(
                "multi_worker", f"{cluster.source} lists {cluster.workers} workers"
            )
        if gpus > 1:
            return StrategyChoice("mirrored", f"{gpus} GPUs are visible")
        return StrategyChoice("default", f"one machine, {gpus or 'no'} GPU")
    if requested in ("default", "mirrored") and cluster.workers > 1:
        raise InputError(
            f"strategy={requested}, but {cluster.source} lists {cluster.workers} workers: each "
            "would train alone and write the same model. Use strategy=auto or multi_worker."
        )
    return StrategyChoice(requested, "requested by the strategy setting")


@dataclass(frozen=True)
class Distribution:
    """The strategy this process trains under, and where its cluster puts it."""

    strategy: tf.distribute.Strategy
    choice: StrategyChoice
    cluster: Cluster

    @property
    def replicas(self) -> int:
        return self.strategy.num_replicas_in_sync

    @property
    def is_chief(self) -> bool:
        return self.cluster.is_chief

    def global_batch_size(self, per_replica: int) -> int:
        return per_replica * self.replicas

    def learning_rate(self, base: float, scaling: str) -> float:
        """`base` (tuned for one replica) scaled to the global batch by the rule `scaling`."""
        factor = {"linear": self.replicas, "sqrt": math.sqrt(self.replicas), "none": 1}[scaling]
        return base * factor

    def summary(self, batch_size: int, learning_rate: float, scaling: str) -> dict:
        """How a model was trained under this distribution, for its metadata."""
        return {
            "strategy": self.choice.kind,
            "reason": self.choice.reason,
            "workers": self.cluster.workers,
            "replicas": self.replicas,
            "batch_size_per_replica": batch_size,
            "global_batch_size": self.global_batch_size(batch_size),
            "learning_rate_scaling": scaling,
            "learning_rate": self.learning_rate(learning_rate, scaling),
        }

    @contextlib.contextmanager
    def writer_dir(self, path: str | Path) -> Iterator[Path]:
        """`path` on the chief; elsewhere a temporary directory, removed afterwards.

        Every worker runs the same save (saving may take part in collectives),
        but only the chief's copy is kept.
        """
        if self.is_chief:
            yield Path(path)
            return
        scratch = Path(tempfile.mkdtemp(prefix=f"worker-{self.cluster.task_index}-"))
        try:
            yield scratch / Path(path).name
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


_created: dict[str, Distribution] = {}


def distribution_for(
    requested: str = "auto", environ: Mapping[str, str] | None = None
) -> Distribution:
    """The Distribution for `requested`, created once per process and logged.

    Call it before any other TensorFlow operation runs: a multi-worker
    strategy configures the runtime's collectives at creation.
    """
    env = os.environ if environ is None else environ
    cluster = read_cluster(env)
    gpus = len(tf.config.list_physical_devices("GPU"))
    choice = choose_strategy(requested, cluster, gpus, env.get(TPU_VARIABLE, "").strip())
    if choice.kind not in _created:
        strategy = _create(choice.kind, env)
        _created[choice.kind] = Distribution(strategy, choice, cluster)
        log.info(
            "Strategy: %s, because %s; %d replica(s) in sync; this process is %s",
            _CLASS_NAMES[choice.kind],
            choice.reason,
            strategy.num_replicas_in_sync,
            cluster.describe(),
        )
    return _created[choice.kind]


def _create(kind: str, env: Mapping[str, str]) -> tf.distribute.Strategy:
    if kind == "default":
        return tf.distribute.get_strategy()
    if kind == "mirrored":
        return tf.distribute.MirroredStrategy(devices=_local_devices())
    if kind == "multi_worker":
        ensure_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    return _tpu_strategy(env.get(TPU_VARIABLE, "").strip() or "local")


def _local_devices() -> list[str]:
    """The GPUs; without GPUs, the CPU devices (more than one when logical CPUs are set up)."""
    gpus = tf.config.list_logical_devices("GPU")
    return [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]


def _tpu_strategy(tpu: str) -> tf.distribute.Strategy:
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, tf.errors.OpError) as exc:
        raise InputError(
            f"strategy=tpu, but no TPU {tpu!r} could be reached ({str(exc)[:120]}...): "
            f"run on a TPU VM, set {TPU_VARIABLE}, or use strategy=auto."
        ) from None
    return tf.distribute.TPUStrategy(resolver)
