"""The training cluster from TF_CONFIG, or from Vertex AI's CLUSTER_SPEC when that is all."""

import json

import pytest

from serving.contracts.errors import InputError
from trainer.distribution.cluster import Cluster, ensure_tf_config, read_cluster


def tf_config(workers: int, task_type: str = "chief", index: int = 0) -> str:
    cluster = {"chief": ["10.0.0.1:2222"], "worker": [f"10.0.0.{i}:2222" for i in range(workers)]}
    return json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}})


VERTEX_SPEC = {
    "cluster": {"workerpool0": ["a:2222"], "workerpool1": ["b:2222", "c:2222"]},
    "environment": "cloud",
    "task": {"type": "workerpool1", "index": 1},
}


def test_no_cluster_is_a_single_chief():
    assert read_cluster({}) == Cluster()
    assert read_cluster({}).is_chief
    alone = read_cluster({"TF_CONFIG": tf_config(0)})
    assert (alone.workers, alone.is_chief) == (1, True)


def test_tf_config_with_a_chief_names_the_chief_and_counts_every_worker():
    chief = read_cluster({"TF_CONFIG": tf_config(3)})
    worker = read_cluster({"TF_CONFIG": tf_config(3, "worker", 0)})
    assert (chief.workers, chief.is_chief, chief.source) == (4, True, "TF_CONFIG")
    assert (worker.workers, worker.task_index, worker.is_chief) == (4, 0, False)


def test_without_a_chief_worker_0_is_the_chief():
    ports = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    first, second = (
        read_cluster(
            {"TF_CONFIG": json.dumps({"cluster": ports, "task": {"type": "worker", "index": i}})}
        )
        for i in (0, 1)
    )
    assert (first.is_chief, second.is_chief) == (True, False)


def test_vertex_cluster_spec_maps_pools_to_chief_and_workers():
    env = {"CLUSTER_SPEC": json.dumps(VERTEX_SPEC)}
    cluster = read_cluster(env)
    assert (cluster.workers, cluster.task_type, cluster.task_index) == (3, "worker", 1)
    assert not cluster.is_chief
    ensure_tf_config(env)
    assert json.loads(env["TF_CONFIG"]) == {
        "cluster": {"chief": ["a:2222"], "worker": ["b:2222", "c:2222"]},
        "task": {"type": "worker", "index": 1},
    }
    from_tf_config = read_cluster(env)
    assert (from_tf_config.workers, from_tf_config.task_index, from_tf_config.source) == (
        3,
        1,
        "TF_CONFIG",
    )


def test_ensure_tf_config_leaves_an_existing_tf_config_alone():
    env = {"TF_CONFIG": tf_config(1), "CLUSTER_SPEC": json.dumps(VERTEX_SPEC)}
    ensure_tf_config(env)
    assert env["TF_CONFIG"] == tf_config(1)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TF_CONFIG": "workers=2"}, "TF_CONFIG is not JSON with a 'cluster' object"),
        ({"CLUSTER_SPEC": "[]"}, "CLUSTER_SPEC is not JSON with a 'cluster' object"),
        ({"TF_CONFIG": tf_config(1, "ps")}, "task 'ps'; the trainer runs as one of chief"),
        ({"TF_CONFIG": tf_config(1, "worker", 5)}, "index 5 of worker, which lists 1 address"),
    ],
)
def test_a_bad_cluster_description_is_refused_with_the_variable_named(env, message):
    with pytest.raises(InputError, match=message):
        read_cluster(env)
