"""The inputs of Vertex AI's BatchPredictionJob (GCPC's ModelBatchPredictOp) for a source and
an output, checked before the job is created.

Vertex reads `gs://` JSONL, CSV and file lists (`*` wildcards allowed) and BigQuery
tables (`bq://project.dataset.table`; a query must first become a table). BigQuery
rows reach the model as objects of their columns (`instance_type` object), so a
column named as the model's input is that input. Output goes under a `gs://`
prefix (JSONL) or, with a `bq://project[.dataset]` output, to BigQuery.
"""

from __future__ import annotations

from serving.contracts.errors import InputError
from trainer.batch_prediction.sources import BIGQUERY_PREFIX, resolve_source


def vertex_job_inputs(
    source_uri: str, instances_format: str, output_uri: str, default_output: str
) -> dict:
    """ModelBatchPredictOp's input and output arguments for this source and output."""
    source = resolve_source(source_uri, instances_format)
    inputs = {
        "instances_format": source.format,
        "gcs_source_uris": [],
        "bigquery_source_input_uri": "",
        "instance_type": "",
        "predictions_format": "jsonl",
        "gcs_destination_output_uri_prefix": "",
        "bigquery_destination_output_uri": "",
    }
    if source.format == "bigquery":
        if source.query:
            raise InputError(
                "Vertex AI batch prediction reads a BigQuery table, not a query: save the query "
                "as a table (CREATE TABLE dataset.instances AS SELECT ...) and give "
                "bq://project.dataset.instances."
            )
        inputs.update(bigquery_source_input_uri=source.uri, instance_type="object")
    elif source.uri.startswith("gs://"):
        inputs["gcs_source_uris"] = [source.uri]
    else:
        raise InputError(
            f"Source {source_uri!r} is local: Vertex AI reads gs:// files or BigQuery tables; "
            "upload it (gcloud storage cp) and give its gs:// URI."
        )
    output = (output_uri or "").strip() or default_output
    if output.startswith(BIGQUERY_PREFIX):
        inputs.update(predictions_format="bigquery", bigquery_destination_output_uri=output)
    elif output.startswith("gs://"):
        inputs["gcs_destination_output_uri_prefix"] = output.rstrip("/")
    else:
        raise InputError(
            f"output_uri {output!r} is neither gs://bucket/prefix nor bq://project[.dataset]: "
            "Vertex AI writes batch predictions to one of those."
        )
    return inputs
