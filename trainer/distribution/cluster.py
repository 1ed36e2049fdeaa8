"""The training cluster this process belongs to, from TF_CONFIG or Vertex AI's CLUSTER_SPEC.

A Vertex AI custom job with more than one replica sets CLUSTER_SPEC on every
machine (worker pool 0 is the chief, pool 1 the workers) and, for TensorFlow,
TF_CONFIG. `trainer.launch` sets TF_CONFIG for local worker processes.
MultiWorkerMirroredStrategy reads TF_CONFIG only, so `ensure_tf_config`
derives it from CLUSTER_SPEC when a container is given CLUSTER_SPEC alone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass

from serving.contracts.errors import InputError

# Roles that train (parameter servers and evaluators do not hold a model replica).
_TRAINING_ROLES = ("chief", "master", "worker")
# Vertex AI's worker pools, as TensorFlow roles: pool 0 is the chief, pool 1 the workers.
_POOL_ROLES = {"workerpool0": "chief", "workerpool1": "worker", "workerpool2": "ps"}


@dataclass(frozen=True)
class Cluster:
    """This process's place in the training cluster; one worker, the chief, when alone."""

    workers: int = 1
    task_type: str = "chief"
    task_index: int = 0
    source: str = ""  # the variable it came from; "" when no cluster is configured
    has_chief: bool = False  # the cluster names a chief; else worker 0 acts as chief

    @property
    def is_chief(self) -> bool:
        """The chief writes the model and logs: the 'chief'/'master' task, else worker 0."""
        if self.task_type in ("chief", "master"):
            return True
        return self.task_type == "worker" and self.task_index == 0 and not self.has_chief

    def describe(self) -> str:
        if self.workers == 1:
            return "a single worker"
        return f"{self.task_type} {self.task_index} of {self.workers} workers ({self.source})"


def read_cluster(environ: Mapping[str, str] | None = None) -> Cluster:
    """The cluster described by TF_CONFIG (or CLUSTER_SPEC when TF_CONFIG is unset)."""
    env = os.environ if environ is None else environ
    config = _tf_config(env)
    if config is None:
        return Cluster()
    variable, value = config
    cluster, task = value.get("cluster", {}), value.get("task", {})
    workers = sum(len(cluster.get(role, [])) for role in _TRAINING_ROLES)
    if workers <= 1:
        return Cluster(source=variable)
    task_type = task.get("type", "")
    if task_type not in _TRAINING_ROLES:
        raise InputError(
            f"{variable} gives this process the task {task_type or '(none)'!r}; the trainer "
            f"runs as one of {', '.join(_TRAINING_ROLES)}: set task.type in {variable}."
        )
    index = task.get("index", 0)
    if not isinstance(index, int) or not 0 <= index < len(cluster.get(task_type, [])):
        raise InputError(
            f"{variable} gives this process index {index!r} of {task_type}, which lists "
            f"{len(cluster.get(task_type, []))} address(es): fix task.index in {variable}."
        )
    return Cluster(
        workers=workers,
        task_type=task_type,
        task_index=index,
        source=variable,
        has_chief=bool(cluster.get("chief") or cluster.get("master")),
    )


def ensure_tf_config(environ: MutableMapping[str, str] | None = None) -> None:
    """Set TF_CONFIG from Vertex AI's CLUSTER_SPEC when only the latter is set."""
    env = os.environ if environ is None else environ
    if env.get("TF_CONFIG", "").strip() or not env.get("CLUSTER_SPEC", "").strip():
        return
    _, spec = _tf_config(env)
    env["TF_CONFIG"] = json.dumps(spec)


def _tf_config(env: Mapping[str, str]) -> tuple[str, dict] | None:
    """(variable, TF_CONFIG-shaped dict) from TF_CONFIG or CLUSTER_SPEC; None if neither is set."""
    for variable in ("TF_CONFIG", "CLUSTER_SPEC"):
        text = env.get(variable, "").strip()
        if not text:
            continue
        try:
            value = json.loads(text)
            if not isinstance(value.get("cluster"), dict):
                raise TypeError
        except (ValueError, TypeError, AttributeError):
            raise InputError(
                f"{variable} is not JSON with a 'cluster' object: {text[:200]!r}. "
                f"Unset {variable} to train on one machine."
            ) from None
        if variable == "CLUSTER_SPEC":
            value = _from_cluster_spec(value)
        return variable, value
    return None


def _from_cluster_spec(spec: dict) -> dict:
    """Vertex AI's CLUSTER_SPEC (workerpool0..3) as TF_CONFIG (chief, worker, ps)."""
    cluster = {
        _POOL_ROLES[pool]: addresses
        for pool, addresses in spec["cluster"].items()
        if pool in _POOL_ROLES and addresses
    }
    task = spec.get("task", {})
    role = _POOL_ROLES.get(task.get("type", ""), task.get("type", ""))
    return {"cluster": cluster, "task": {"type": role, "index": task.get("index", 0)}}
