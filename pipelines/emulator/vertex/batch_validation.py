"""The checks Vertex AI makes on a BatchPredictionJob before it accepts it (INVALID_ARGUMENT),
where a client of this project could get them wrong: a display name, a model that exists,
an instances format the model takes with a source of that kind, an output of a supported
format, machines for a custom-trained model, and counts that make sense.

A custom-container model takes every input storage format Vertex reads and writes JSONL or
BigQuery (Model.supported_input_storage_formats / supported_output_storage_formats); the
emulator runs the four this project uses.
"""

from __future__ import annotations

import re

import grpc
from google.cloud import aiplatform_v1 as v1

from pipelines.emulator.rpc.rpc import ApiError
from pipelines.emulator.vertex.validation import check_display_name, check_gcs_uri, invalid

INPUT_FORMATS = ("jsonl", "csv", "tf-record", "tf-record-gzip", "bigquery", "file-list")
RUN_FORMATS = ("jsonl", "csv", "bigquery", "file-list")
OUTPUT_FORMATS = ("jsonl", "bigquery")
_BIGQUERY_TABLE = re.compile(r"^bq://[a-z0-9.:-]+\.[A-Za-z0-9_]+\.[^.:]+$")
_BIGQUERY_OUTPUT = re.compile(r"^bq://[a-z0-9.:-]+(\.[A-Za-z0-9_]+)?$")


def check_batch_prediction_job(job: v1.BatchPredictionJob) -> None:
    """INVALID_ARGUMENT naming the field Vertex AI would refuse (UNIMPLEMENTED: a format the
    emulator does not run)."""
    check_display_name(job.display_name, "BatchPredictionJob")
    if not job.model:
        raise invalid("BatchPredictionJob.model is required (the emulator runs registered models).")
    _check_input(job.input_config, job.instance_config)
    _check_output(job.output_config)
    resources = job.dedicated_resources
    if not resources.machine_spec.machine_type:
        raise invalid(
            "BatchPredictionJob.dedicated_resources.machine_spec.machine_type is required: a "
            "custom-trained model does not support automatic resources."
        )
    if resources.starting_replica_count < 0 or resources.max_replica_count < 0:
        raise invalid("dedicated_resources replica counts must not be negative.")
    if resources.max_replica_count and resources.starting_replica_count > (
        resources.max_replica_count
    ):
        raise invalid(
            "dedicated_resources.starting_replica_count must not exceed max_replica_count."
        )
    if job.manual_batch_tuning_parameters.batch_size < 0:
        raise invalid("manual_batch_tuning_parameters.batch_size must not be negative.")


def _check_input(config: v1.BatchPredictionJob.InputConfig, instance) -> None:
    form = config.instances_format
    if form not in INPUT_FORMATS:
        raise invalid(
            f"input_config.instances_format {form!r} is not one the model supports "
            f"({', '.join(INPUT_FORMATS)})."
        )
    if form not in RUN_FORMATS:
        raise ApiError(
            grpc.StatusCode.UNIMPLEMENTED,
            f"The emulator does not run instances_format {form!r} ({', '.join(RUN_FORMATS)}).",
        )
    if form == "bigquery":
        uri = config.bigquery_source.input_uri
        if not _BIGQUERY_TABLE.match(uri):
            raise invalid(
                f"input_config.bigquery_source.input_uri {uri!r} must be "
                "bq://project.dataset.table."
            )
    else:
        if not config.gcs_source.uris:
            raise invalid(f"input_config.gcs_source.uris is required for {form!r} instances.")
        for uri in config.gcs_source.uris:
            check_gcs_uri(uri, "input_config.gcs_source.uris")
    if instance.instance_type not in ("", "object", "array"):
        raise invalid(f"instance_config.instance_type {instance.instance_type!r}: object or array.")
    if instance.instance_type and form in ("csv", "file-list"):
        raise invalid(f"instance_config.instance_type does not apply to {form!r} instances.")


def _check_output(config: v1.BatchPredictionJob.OutputConfig) -> None:
    form = config.predictions_format
    if form not in OUTPUT_FORMATS:
        raise invalid(
            f"output_config.predictions_format {form!r} is not one the model supports "
            f"({', '.join(OUTPUT_FORMATS)})."
        )
    if form == "bigquery":
        uri = config.bigquery_destination.output_uri
        if not _BIGQUERY_OUTPUT.match(uri):
            raise invalid(
                f"output_config.bigquery_destination.output_uri {uri!r} must be "
                "bq://project or bq://project.dataset."
            )
        raise ApiError(
            grpc.StatusCode.UNIMPLEMENTED,
            "The emulator writes batch predictions to Cloud Storage only: give "
            "output_config.gcs_destination (JSONL).",
        )
    check_gcs_uri(config.gcs_destination.output_uri_prefix, "output_config.gcs_destination")
