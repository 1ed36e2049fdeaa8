"""Strategy choice for every branch, and what a strategy changes: batch, learning rate, writers.

MirroredStrategy and MultiWorkerMirroredStrategy run for real in
test_strategy_equivalence.py; the TPU branch can only be chosen here (no TPU).
"""

import json
import os
import subprocess
import sys

import pytest
import tensorflow as tf

from serving.contracts.errors import InputError
from tests.conftest import REPO
from trainer.distribution.cluster import Cluster
from trainer.distribution.options import DistributionOptions
from trainer.distribution.strategy import (
    Distribution,
    StrategyChoice,
    choose_strategy,
    distribution_for,
)

ONE = Cluster()
TWO = Cluster(workers=2, task_type="worker", task_index=1, source="TF_CONFIG")


@pytest.mark.parametrize(
    ("cluster", "gpus", "tpu", "kind", "reason"),
    [
        (ONE, 0, "", "default", "one machine, no GPU"),
        (ONE, 1, "", "default", "one machine, 1 GPU"),
        (ONE, 4, "", "mirrored", "4 GPUs are visible"),
        (TWO, 4, "", "multi_worker", "TF_CONFIG lists 2 workers"),
        (TWO, 0, "my-tpu", "tpu", "TPU_NAME=my-tpu names a TPU"),
    ],
)
def test_auto_chooses_from_what_the_process_sees(cluster, gpus, tpu, kind, reason):
    assert choose_strategy("auto", cluster, gpus, tpu) == StrategyChoice(kind, reason)


def test_a_requested_strategy_wins_unless_it_would_train_workers_alone():
    assert choose_strategy("mirrored", ONE, 0, "").kind == "mirrored"
    assert choose_strategy("multi_worker", ONE, 0, "").kind == "multi_worker"
    with pytest.raises(InputError, match="strategy=default, but TF_CONFIG lists 2 workers"):
        choose_strategy("default", TWO, 0, "")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            DistributionOptions(strategy="horovod"),
            "strategy='horovod' is not allowed: it must be one of auto, default, mirrored",
        ),
        (DistributionOptions(learning_rate_scaling="cube"), "'cube' is not allowed: .* linear"),
        (DistributionOptions(checkpoint_every_steps=-1), "checkpoint_every_steps=-1 is out of"),
    ],
)
def test_bad_distribution_options_are_refused(options, message):
    with pytest.raises(InputError, match=message):
        options.check()


def test_batch_and_learning_rate_scale_with_the_replicas():
    two = Distribution(tf.distribute.get_strategy(), StrategyChoice("default", ""), TWO)
    two = _with_replicas(two, 4)
    assert two.global_batch_size(32) == 128
    assert two.learning_rate(0.001, "linear") == pytest.approx(0.004)
    assert two.learning_rate(0.001, "sqrt") == pytest.approx(0.002)
    assert two.learning_rate(0.001, "none") == pytest.approx(0.001)
    summary = two.summary(32, 0.001, "linear")
    assert (summary["global_batch_size"], summary["workers"], summary["replicas"]) == (128, 2, 4)


def test_the_default_distribution_is_one_replica_and_the_chief(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    monkeypatch.delenv("CLUSTER_SPEC", raising=False)
    distribution = distribution_for("auto")
    assert (distribution.choice.kind, distribution.replicas, distribution.is_chief) == (
        "default",
        1,
        True,
    )
    assert distribution_for("default") is distribution  # created once per process


def test_only_the_chief_writes_to_the_real_directory(tmp_path):
    strategy = tf.distribute.get_strategy()
    chief = Distribution(strategy, StrategyChoice("default", ""), Cluster())
    worker = Distribution(strategy, StrategyChoice("default", ""), TWO)
    with chief.writer_dir(tmp_path / "model") as path:
        assert path == tmp_path / "model"
    with worker.writer_dir(tmp_path / "model") as path:
        assert path != tmp_path / "model" and path.name == "model"
        path.mkdir()
        (path / "saved_model.pb").write_bytes(b"x")
        scratch = path.parent
    assert not scratch.exists()  # removed afterwards
    assert not (tmp_path / "model").exists()


def test_asking_for_a_tpu_without_one_is_a_clear_error():
    """Runs in its own process: connecting to a TPU cluster resets TensorFlow's context."""
    code = "from trainer.distribution.strategy import distribution_for; distribution_for('tpu')"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert "InputError: strategy=tpu, but no TPU 'local' could be reached" in done.stderr
    assert "run on a TPU VM, set TPU_NAME, or use strategy=auto" in done.stderr


def _with_replicas(distribution: Distribution, replicas: int) -> Distribution:
    """A Distribution whose strategy reports `replicas` (as 4 GPUs on 2 machines would)."""

    class Replicated:
        num_replicas_in_sync = replicas

    return Distribution(Replicated(), distribution.choice, distribution.cluster)


def test_cluster_spec_json_round_trip_is_what_launch_writes():
    from trainer.distribution.cluster import read_cluster
    from trainer.launch import tf_config

    clusters = [read_cluster({"TF_CONFIG": tf_config([1, 2, 3], i)}) for i in range(3)]
    assert [c.is_chief for c in clusters] == [True, False, False]
    assert {c.workers for c in clusters} == {3}
    assert json.loads(tf_config([5], 0))["cluster"] == {"worker": ["127.0.0.1:5"]}
