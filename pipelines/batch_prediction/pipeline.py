"""Batch prediction: a registered model's predictions for every instance of a source, in
Vertex AI's batch output layout. One pipeline for every case study: the model's own
signature says what an instance is, so only the model's name differs."""

from kfp import dsl
from kfp.dsl import Artifact

from pipelines.batch_prediction.steps import BatchJob
from pipelines.targets import Target
from trainer.distribution.options import pick_fields

PIPELINE_NAME = "batch-prediction"


def build_pipeline(target: Target):
    """The batch prediction pipeline for `target` (local runner or Vertex AI); same parameters."""

    @dsl.pipeline(name=PIPELINE_NAME, description=__doc__)
    def batch_prediction_pipeline(
        model_name: str,  # the registered model: vision, timeseries or text
        source_uri: str,  # gs:// or local JSONL, CSV, file list or image folder; bq://p.d.t
        model_version: str = "",  # a version or an alias; "": the champion
        instances_format: str = "",  # jsonl, csv, file-list or bigquery; "": from the source
        output_uri: str = "",  # gs:// prefix (Vertex AI: or bq://project); "": the run's own
        registry_uri: str = "",  # local target: the local registry directory
        local_database: str = "",  # local target: a DuckDB file standing in for BigQuery
        batch_size: int = 64,  # instances per model call
        machine_type: str = "n1-standard-4",  # Vertex AI: the batch job's machines
        starting_replica_count: int = 1,  # Vertex AI
        max_replica_count: int = 2,  # Vertex AI
    ) -> Artifact:
        return target.batch_predict(BatchJob(**pick_fields(BatchJob, locals())))

    return target.notifying(batch_prediction_pipeline)
