"""The batch prediction steps of each target, which pipelines/targets.py picks from.

Locally one step streams the instances through the SavedModel of the local
registry. On Vertex AI a step finds the Model Registry version and checks the
source, then GCPC's ModelBatchPredictOp runs Vertex's own BatchPredictionJob on
that model, with its serving container, on the machines the parameters name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google_cloud_pipeline_components.v1.batch_predict_job import ModelBatchPredictOp
from kfp import dsl

from components.batch_predict import plan_vertex_batch_prediction, predict_batch_locally

Channel = Any  # a kfp PipelineChannel

# Vertex AI: where a job writes when output_uri is empty, one folder per run under the run's
# pipeline root (gs://), as GCPC's own components lay out their outputs.
DEFAULT_VERTEX_OUTPUT = (
    f"{dsl.PIPELINE_ROOT_PLACEHOLDER}/{dsl.PIPELINE_JOB_ID_PLACEHOLDER}/batch-prediction"
)


@dataclass(frozen=True)
class BatchJob:
    """What to predict, with which model, on which machines: the pipeline parameters so named."""

    model_name: Channel
    model_version: Channel  # a version or alias; "": the champion
    source_uri: Channel
    instances_format: Channel  # jsonl | csv | file-list | bigquery; "": from the source
    output_uri: Channel
    registry_uri: Channel  # local target: the local registry
    local_database: Channel  # local target: the DuckDB file standing in for BigQuery
    batch_size: Channel
    machine_type: Channel  # Vertex AI
    starting_replica_count: Channel  # Vertex AI
    max_replica_count: Channel  # Vertex AI


def local_steps(job: BatchJob) -> tuple[list[dsl.PipelineTask], Channel]:
    """(the tasks, the output folder artifact) of the local job."""
    task = predict_batch_locally(
        model_name=job.model_name,
        model_version=job.model_version,
        registry_uri=job.registry_uri,
        source_uri=job.source_uri,
        instances_format=job.instances_format,
        output_uri=job.output_uri,
        local_database=job.local_database,
        batch_size=job.batch_size,
    ).set_display_name("batch-predict")
    return [task], task.outputs["gcs_output_directory"]


def vertex_steps(job: BatchJob) -> tuple[list[dsl.PipelineTask], Channel]:
    """(the tasks, the output folder artifact) of Vertex AI's BatchPredictionJob."""
    plan = plan_vertex_batch_prediction(
        model_name=job.model_name,
        model_version=job.model_version,
        source_uri=job.source_uri,
        instances_format=job.instances_format,
        output_uri=job.output_uri,
        default_output_uri=DEFAULT_VERTEX_OUTPUT,
    ).set_display_name("find-batch-model")
    predict = ModelBatchPredictOp(
        job_display_name=job.model_name,
        model=plan.outputs["model"],
        instances_format=plan.outputs["instances_format"],
        gcs_source_uris=plan.outputs["gcs_source_uris"],
        bigquery_source_input_uri=plan.outputs["bigquery_source_input_uri"],
        instance_type=plan.outputs["instance_type"],
        predictions_format=plan.outputs["predictions_format"],
        gcs_destination_output_uri_prefix=plan.outputs["gcs_destination_output_uri_prefix"],
        bigquery_destination_output_uri=plan.outputs["bigquery_destination_output_uri"],
        machine_type=job.machine_type,
        starting_replica_count=job.starting_replica_count,
        max_replica_count=job.max_replica_count,
        manual_batch_tuning_parameters_batch_size=job.batch_size,
    ).set_display_name("batch-predict")
    return [plan, predict], predict.outputs["gcs_output_directory"]
