"""Checks Vertex AI makes on requests before it accepts them, as INVALID_ARGUMENT.

Only what Vertex is strict about and a client of this project could get
wrong is copied here: required fields, Cloud Storage URIs, replica and
accelerator counts, alias formats. The types themselves are checked by
decoding the request into the aiplatform_v1 protos (an int32 field refuses
"0" and 1.5 on both transports).
"""

from __future__ import annotations

import re

import grpc
from google.cloud import aiplatform_v1 as v1

from pipelines.emulator.formats import GCS_URI
from pipelines.emulator.rpc.rpc import ApiError

_ALIAS = re.compile(r"^[a-z][a-zA-Z0-9-]{0,126}[a-z0-9]$")
_NO_ACCELERATOR = v1.AcceleratorType.ACCELERATOR_TYPE_UNSPECIFIED


def invalid(message: str) -> ApiError:
    return ApiError(grpc.StatusCode.INVALID_ARGUMENT, message)


def check_gcs_uri(uri: str, field: str) -> None:
    if not GCS_URI.match(uri):
        raise invalid(f"{field} {uri!r} is not a valid Cloud Storage URI (gs://bucket/path).")


def check_display_name(name: str, kind: str) -> None:
    if not name:
        raise invalid(f"{kind}.display_name is required.")
    if len(name) > 128:
        raise invalid(f"{kind}.display_name is longer than 128 characters.")


def check_custom_job(job: v1.CustomJob) -> None:
    check_display_name(job.display_name, "CustomJob")
    spec = job.job_spec
    if not spec.worker_pool_specs:
        raise invalid("CustomJob.job_spec.worker_pool_specs must contain at least one pool.")
    for index, pool in enumerate(spec.worker_pool_specs):
        where = f"job_spec.worker_pool_specs[{index}]"
        if index and pool == v1.WorkerPoolSpec():
            continue  # an empty pool keeps a later pool's place (e.g. [chief, {}, ps])
        if not pool.machine_spec.machine_type:
            raise invalid(f"{where}.machine_spec.machine_type is required.")
        if not pool.container_spec.image_uri:
            raise invalid(
                f"{where} needs container_spec.image_uri: the emulator runs containers "
                "(a python_package_spec is not emulated)."
            )
        if pool.replica_count < 1:
            raise invalid(f"{where}.replica_count must be at least 1.")
        if index == 0 and pool.replica_count != 1:
            raise invalid(f"{where}.replica_count must be 1: the first pool is the chief.")
        machine = pool.machine_spec
        if machine.accelerator_count and machine.accelerator_type == _NO_ACCELERATOR:
            raise invalid(f"{where}.machine_spec.accelerator_count needs an accelerator_type.")
        if machine.accelerator_type != _NO_ACCELERATOR and machine.accelerator_count < 1:
            raise invalid(f"{where}.machine_spec.accelerator_type needs accelerator_count >= 1.")
    prefix = spec.base_output_directory.output_uri_prefix
    if prefix:
        check_gcs_uri(prefix, "job_spec.base_output_directory.output_uri_prefix")


def check_model(model: v1.Model) -> None:
    check_display_name(model.display_name, "Model")
    if model.artifact_uri:
        check_gcs_uri(model.artifact_uri, "Model.artifact_uri")
    if not model.container_spec.image_uri:
        raise invalid("Model.container_spec.image_uri is required.")
    for alias in model.version_aliases:
        if not _ALIAS.match(alias):
            raise invalid(
                f"Version alias {alias!r} does not match [a-z][a-zA-Z0-9-]{{0,126}}[a-z0-9]."
            )


def check_traffic_split(split: dict, deployed_ids: set[str]) -> None:
    if split and sum(split.values()) != 100:
        raise invalid(f"traffic_split {dict(split)} must add up to 100.")
    unknown = sorted(set(split) - deployed_ids)
    if unknown:
        raise invalid(f"traffic_split names {', '.join(unknown)}, which are not deployed.")
