"""The training cluster Vertex AI describes to each replica (TF_CONFIG, CLUSTER_SPEC).

A custom job with more than one replica sets TF_CONFIG (and CLUSTER_SPEC) on
every machine. Until the trainer builds a MultiWorkerMirroredStrategy from it
(issue #6), each replica would train alone and all would write the same
model, so training refuses such a cluster up front instead.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from trainer.errors import InputError

_TRAINING_ROLES = ("chief", "master", "worker", "workerpool0", "workerpool1")


def cluster_size(environ: Mapping[str, str] | None = None) -> int:
    """Training replicas listed in TF_CONFIG or CLUSTER_SPEC; 1 when neither is set."""
    env = os.environ if environ is None else environ
    for variable in ("TF_CONFIG", "CLUSTER_SPEC"):
        text = env.get(variable, "").strip()
        if not text:
            continue
        try:
            cluster = json.loads(text)["cluster"]
        except (ValueError, KeyError, TypeError):
            raise InputError(
                f"{variable} is not JSON with a 'cluster' entry: {text[:200]!r}"
            ) from None
        return max(1, sum(len(cluster.get(role, [])) for role in _TRAINING_ROLES))
    return 1


def check_single_replica(environ: Mapping[str, str] | None = None) -> None:
    """Refuse a multi-replica cluster: the trainer is single-machine for now (issue #6)."""
    size = cluster_size(environ)
    if size > 1:
        raise InputError(
            f"This job has {size} training replicas (TF_CONFIG), but the trainer does not run "
            "multi-worker yet: each replica would train alone and overwrite the same model. "
            "Use train_replica_count=1 (one machine; add accelerators to scale up)."
        )
