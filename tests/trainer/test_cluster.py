"""The cluster Vertex AI describes, and the refusal of multi-replica training (until issue #6)."""

import json

import pytest

from tests.conftest import quick_config
from trainer.cluster import check_single_replica, cluster_size
from trainer.errors import InputError
from trainer.vision_training import train_image_classifier


def tf_config(workers: int) -> str:
    cluster = {"chief": ["10.0.0.1:2222"], "worker": [f"10.0.0.{i}:2222" for i in range(workers)]}
    return json.dumps({"cluster": cluster, "task": {"type": "chief", "index": 0}})


def test_cluster_size_from_tf_config_or_cluster_spec():
    assert cluster_size({}) == 1
    assert cluster_size({"TF_CONFIG": tf_config(0)}) == 1
    assert cluster_size({"TF_CONFIG": tf_config(3)}) == 4
    spec = {"cluster": {"workerpool0": ["a:1"], "workerpool1": ["b:1", "c:1"]}, "task": {}}
    assert cluster_size({"CLUSTER_SPEC": json.dumps(spec)}) == 3
    with pytest.raises(InputError, match="TF_CONFIG is not JSON with a 'cluster' entry"):
        cluster_size({"TF_CONFIG": "workers=2"})


def test_a_multi_replica_job_is_refused_before_training(
    digits_dataset, small_base_weights, tmp_path, monkeypatch
):
    check_single_replica({"TF_CONFIG": tf_config(0)})
    monkeypatch.setenv("TF_CONFIG", tf_config(1))
    with pytest.raises(InputError, match=r"2 training replicas.*train_replica_count=1"):
        train_image_classifier(digits_dataset, tmp_path / "model", quick_config(small_base_weights))
    assert not (tmp_path / "model").exists()
