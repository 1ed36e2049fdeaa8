"""Batch prediction steps: the local job, and the plan of Vertex AI's BatchPredictionJob."""

from typing import NamedTuple

from google_cloud_pipeline_components.types.artifact_types import VertexModel
from kfp import dsl
from kfp.dsl import Artifact, Output

from components.container_images import PIPELINE_IMAGE


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def predict_batch_locally(
    model_name: str,
    model_version: str,
    registry_uri: str,
    source_uri: str,
    instances_format: str,
    output_uri: str,
    local_database: str,
    batch_size: int,
    gcs_output_directory: Output[Artifact],
):
    """Streams `source_uri`'s instances through the local registry's chosen version in batches.

    `model_version`: a version or alias ("": the champion). Out: gcs_output_directory,
    the job's folder (Vertex AI's layout: prediction.results-* and
    prediction.errors_stats-*), under `output_uri` or, when that is empty, in the artifact.
    """
    from serving.contracts.logs import setup_logging
    from trainer.batch_prediction.job import local_job

    setup_logging()
    summary = local_job(
        registry_uri,
        model_name,
        model_version,
        source_uri,
        output_uri or gcs_output_directory.path,
        instances_format,
        local_database,
        batch_size,
    )
    print(f"Batch prediction: {summary.describe()}")
    gcs_output_directory.metadata.update(
        {
            "output_directory": summary.output_uri,
            "results": summary.results,
            "errors": summary.errors,
        }
    )


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def plan_vertex_batch_prediction(
    model_name: str,
    model_version: str,
    source_uri: str,
    instances_format: str,
    output_uri: str,
    default_output_uri: str,
    model: Output[VertexModel],
    project: str = "{{$.pipeline_google_cloud_project_id}}",
    location: str = "{{$.pipeline_google_cloud_location}}",
) -> NamedTuple(
    "BatchPredictionInputs",
    instances_format=str,
    gcs_source_uris=list,
    bigquery_source_input_uri=str,
    instance_type=str,
    predictions_format=str,
    gcs_destination_output_uri_prefix=str,
    bigquery_destination_output_uri=str,
):
    """The Model Registry version to use (`model_version`, an id or alias; "": the champion)
    and ModelBatchPredictOp's input and output arguments for the source, checked first.

    A prefix of images becomes a file list under `default_output_uri` (Vertex reads no
    folders); CSV is refused for a model with a string input. Out: model
    (google.VertexModel), and the job's arguments by name.
    """
    from serving.registry.vertex_models import model_version_name, resource_uri
    from trainer.batch_prediction.vertex_plan import refuse_csv_for_strings, vertex_job_inputs

    inputs = vertex_job_inputs(source_uri, instances_format, output_uri, default_output_uri)
    name = model_version_name(model_name, model_version, project, location)
    if inputs["instances_format"] == "csv":
        from google.cloud import aiplatform

        from trainer.batch_prediction.model_input import takes_strings

        artifact = aiplatform.Model(name, project=project, location=location).uri
        refuse_csv_for_strings("csv", takes_strings(artifact), source_uri)
    model.metadata["resourceName"] = name
    model.uri = resource_uri(name, location)
    print(f"Batch prediction with {name}: {inputs}")
    return (
        inputs["instances_format"],
        inputs["gcs_source_uris"],
        inputs["bigquery_source_input_uri"],
        inputs["instance_type"],
        inputs["predictions_format"],
        inputs["gcs_destination_output_uri_prefix"],
        inputs["bigquery_destination_output_uri"],
    )
