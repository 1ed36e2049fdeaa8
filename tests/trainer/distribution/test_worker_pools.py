"""A training job's worker pools come out typed as CustomJob needs them, whatever form the counts
arrive in, and bad machine parameters are refused with the pipeline parameter's name."""

from __future__ import annotations

import re

import pytest

from serving.contracts.errors import InputError
from trainer.distribution.worker_pools import (
    EXECUTOR_INPUT_MARKER,
    JSON_ESCAPED_EXECUTOR_INPUT,
    NO_ACCELERATOR,
    worker_pool_specs,
)

TEMPLATE = {
    "container_spec": {
        "image_uri": "us-docker.pkg.dev/p/r/pipeline:1",
        "command": ["python3", "-m", "kfp.dsl.executor_main"],
        "args": ["--executor_input", EXECUTOR_INPUT_MARKER, "--function_to_execute", "train"],
        "env": [],
    },
    "disk_spec": {"boot_disk_type": "pd-ssd", "boot_disk_size_gb": 100.0},  # as compiled
}
MACHINE = {
    "machine_type": "n1-standard-8",
    "accelerator_type": NO_ACCELERATOR,
    "accelerator_count": 0,
}


def pools(**overrides) -> list[dict]:
    return worker_pool_specs(TEMPLATE, **{**MACHINE, "replica_count": 1, **overrides})


def test_one_replica_is_one_pool_with_int_counts_and_the_executor_input_placeholder():
    [chief] = pools(accelerator_count=0.0, replica_count="1")
    assert chief["machine_spec"] == MACHINE
    assert type(chief["machine_spec"]["accelerator_count"]) is int
    assert chief["replica_count"] == 1 and type(chief["replica_count"]) is int
    assert chief["container_spec"]["args"] == [
        "--executor_input",
        JSON_ESCAPED_EXECUTOR_INPUT,
        "--function_to_execute",
        "train",
    ]
    assert chief["disk_spec"] == {"boot_disk_type": "pd-ssd", "boot_disk_size_gb": 100}
    assert type(chief["disk_spec"]["boot_disk_size_gb"]) is int
    assert TEMPLATE["container_spec"]["args"][1] == EXECUTOR_INPUT_MARKER  # input left as it was


@pytest.mark.parametrize("replicas", [2, 2.0, "2", " 2 ", "2.0"])
def test_more_replicas_add_a_pool_of_the_others_on_the_same_machines(replicas):
    chief, workers = pools(
        replica_count=replicas, accelerator_type="NVIDIA_TESLA_T4", accelerator_count="1"
    )
    assert chief["replica_count"] == 1
    assert workers["replica_count"] == 1 and type(workers["replica_count"]) is int
    assert workers["container_spec"] == chief["container_spec"]
    assert (
        workers["machine_spec"]
        == chief["machine_spec"]
        == {
            "machine_type": "n1-standard-8",
            "accelerator_type": "NVIDIA_TESLA_T4",
            "accelerator_count": 1,
        }
    )
    workers["machine_spec"]["accelerator_count"] = 4
    assert chief["machine_spec"]["accelerator_count"] == 1  # separate pools, not one shared dict
    [*_, many] = pools(replica_count=5)
    assert many["replica_count"] == 4


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"replica_count": 0}, "train_replica_count=0 must be at least 1"),
        ({"replica_count": -2}, "train_replica_count=-2 must be at least 1"),
        ({"replica_count": 1.5}, "train_replica_count=1.5 is not a whole number"),
        ({"replica_count": "two"}, "train_replica_count='two' is not a whole number"),
        ({"replica_count": True}, "train_replica_count=True is not a whole number"),
        ({"replica_count": None}, "train_replica_count=None is not a whole number"),
        ({"replica_count": float("nan")}, "train_replica_count=nan is not a whole number"),
        ({"accelerator_count": -1}, "train_accelerator_count=-1 must be at least 0"),
        ({"accelerator_count": "0.5"}, "train_accelerator_count='0.5' is not a whole number"),
        ({"machine_type": ""}, "train_machine_type='' is empty or not text"),
        ({"machine_type": 8}, "train_machine_type=8 is empty or not text"),
        ({"accelerator_type": " "}, "train_accelerator_type=' ' is empty or not text"),
        (
            {"accelerator_count": 2},
            "train_accelerator_type='ACCELERATOR_TYPE_UNSPECIFIED' and train_accelerator_count=2 "
            "disagree",
        ),
        (
            {"accelerator_type": "NVIDIA_TESLA_T4"},
            "train_accelerator_type='NVIDIA_TESLA_T4' and train_accelerator_count=0 disagree",
        ),
    ],
)
def test_bad_machine_parameters_are_refused_by_name(overrides, message):
    with pytest.raises(InputError, match=re.escape(message)):
        pools(**overrides)


def test_a_template_without_a_container_is_refused():
    with pytest.raises(InputError, match="no container_spec"):
        worker_pool_specs({"disk_spec": {}}, **MACHINE, replica_count=1)


def test_a_tuning_job_s_trial_pool_is_the_image_once_on_the_training_machine():
    from types import SimpleNamespace

    from components.tuning import tuning_job_inputs

    inputs = tuning_job_inputs.python_func(
        dataset=SimpleNamespace(uri="gs://b/dataset"), case="text", settings={},
        tuning_space={}, tuning_metric="", image="image:1", machine_type="n1-standard-4",
        accelerator_type="NVIDIA_TESLA_T4", accelerator_count="1",
    )  # fmt: skip
    [pool] = inputs.worker_pool_specs
    assert pool["machine_spec"] == {
        "machine_type": "n1-standard-4",
        "accelerator_type": "NVIDIA_TESLA_T4",
        "accelerator_count": 1,
    }
    assert pool["container_spec"]["image_uri"] == "image:1" and pool["replica_count"] == 1
    with pytest.raises(InputError, match="train_accelerator_count=0 disagree"):
        tuning_job_inputs.python_func(
            dataset=SimpleNamespace(uri="gs://b/dataset"), case="text", settings={},
            tuning_space={}, tuning_metric="", image="image:1", machine_type="n1-standard-4",
            accelerator_type="NVIDIA_TESLA_T4", accelerator_count=0,
        )  # fmt: skip
