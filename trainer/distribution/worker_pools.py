"""A Vertex AI training job's worker pools, with the machine fields as whole numbers and text.

GCPC's custom job launcher turns its payload into `aiplatform_v1.CustomJob`
with proto-plus, whose int32 fields (accelerator_count, boot_disk_size_gb)
refuse text such as "0" and numbers written as 2.0. Pipeline parameters placed
inside a list-of-struct constant reach it as placeholders nested in strings,
which Vertex AI may fill in as text. This function builds the whole list from
the parameter values instead, so that a pipeline step can hand it to the job
as one value: numbers stay numbers, and Vertex AI writes a whole-number value
as an integer (protojson), the path GCPC's own default pools, with their
`boot_disk_size_gb: 100`, take into every custom job. It imports no TensorFlow.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from serving.contracts.errors import InputError

# What a worker pool's container gets for its executor input: GCPC's placeholder, which the
# custom job step fills in with its own executor input (JSON-escaped inside its payload).
JSON_ESCAPED_EXECUTOR_INPUT = "{{$.json_escape[1]}}"
# What stands for it while the pool template travels as another step's input, where Vertex AI
# might fill the placeholder with that step's executor input instead.
EXECUTOR_INPUT_MARKER = "<custom job executor input>"
NO_ACCELERATOR = "ACCELERATOR_TYPE_UNSPECIFIED"


def worker_pool_specs(
    template: Mapping[str, Any],
    *,
    machine_type: Any,
    accelerator_type: Any,
    accelerator_count: Any,
    replica_count: Any,
) -> list[dict]:
    """The job's worker pools: the chief, plus a pool of `replica_count - 1` workers if > 1.

    `template` is one pool without machine_spec and replica_count (container_spec
    with EXECUTOR_INPUT_MARKER in its args, disk_spec). Counts may arrive as
    2, 2.0 or "2" and come out as int; a bad value raises InputError naming the
    pipeline parameter (train_machine_type, train_accelerator_type,
    train_accelerator_count, train_replica_count).
    """
    if "container_spec" not in template:
        raise InputError("The worker pool template has no container_spec: nothing would run.")
    replicas = _count(replica_count, "train_replica_count", minimum=1)
    machine = machine_spec(machine_type, accelerator_type, accelerator_count)
    pool = _typed_pool(template)
    pools = [{**pool, "machine_spec": machine, "replica_count": 1}]
    if replicas > 1:
        workers = copy.deepcopy(pool)
        pools.append({**workers, "machine_spec": dict(machine), "replica_count": replicas - 1})
    return pools


def machine_spec(machine_type: Any, accelerator_type: Any, accelerator_count: Any) -> dict:
    """A pool's machine_spec from the train_machine_type/accelerator parameters; InputError
    naming the parameter for a bad value, or for an accelerator type and count that disagree."""
    machine = {
        "machine_type": _name(machine_type, "train_machine_type", "n1-standard-8"),
        "accelerator_type": _name(accelerator_type, "train_accelerator_type", NO_ACCELERATOR),
        "accelerator_count": _count(accelerator_count, "train_accelerator_count", minimum=0),
    }
    if (machine["accelerator_type"] == NO_ACCELERATOR) != (machine["accelerator_count"] == 0):
        raise InputError(
            f"train_accelerator_type={machine['accelerator_type']!r} and "
            f"train_accelerator_count={machine['accelerator_count']} disagree: set both (e.g. "
            f"NVIDIA_TESLA_T4 and 1) or neither ({NO_ACCELERATOR} and 0)."
        )
    return machine


def _typed_pool(template: Mapping[str, Any]) -> dict:
    """The template with the executor-input placeholder back and its disk size an int (a
    template that went through a step may come back with 100.0)."""
    pool = copy.deepcopy(dict(template))
    container = pool["container_spec"]
    container["args"] = [
        JSON_ESCAPED_EXECUTOR_INPUT if arg == EXECUTOR_INPUT_MARKER else arg
        for arg in container.get("args", [])
    ]
    disk = pool.get("disk_spec") or {}
    if "boot_disk_size_gb" in disk:
        disk["boot_disk_size_gb"] = _count(disk["boot_disk_size_gb"], "boot_disk_size_gb", 1)
    return pool


def _count(value: Any, parameter: str, minimum: int) -> int:
    """An integer from an int, an integral float or its text; bools and fractions refused."""
    number: Any = value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if isinstance(number, bool) or not isinstance(number, int | float):
        raise InputError(
            f"{parameter}={value!r} is not a whole number, e.g. {parameter}={minimum}."
        )
    if isinstance(number, float) and not number.is_integer():
        raise InputError(
            f"{parameter}={value!r} is not a whole number, e.g. {parameter}={minimum}."
        )
    if number < minimum:
        raise InputError(f"{parameter}={value!r} must be at least {minimum}.")
    return int(number)


def _name(value: Any, parameter: str, example: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{parameter}={value!r} is empty or not text, e.g. {parameter}={example}.")
    return value.strip()
