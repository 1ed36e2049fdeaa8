"""The inputs of Vertex AI's BatchPredictionJob (GCPC's ModelBatchPredictOp) for a source and
an output, checked before the job is created.

Vertex reads `gs://` JSONL, CSV and file lists (`*` wildcards allowed) and BigQuery
tables (`bq://project.dataset.table`; a query must first become a table). BigQuery
rows reach the model as objects of their columns (`instance_type` object), so a
column named as the model's input is that input. Output goes under a `gs://`
prefix (JSONL) or, with a `bq://project[.dataset]` output, to BigQuery.

Vertex reads each `gcs_source_uris` entry as an object or a wildcard, never a folder,
and in `file-list` format each one as a list of files: a prefix (or pattern, or single
file) of images becomes a file list of them, written under the run's output.
"""

from __future__ import annotations

from serving.contracts.errors import InputError
from serving.contracts.storage import parse_source_uri, storage_client
from trainer.batch_prediction import files
from trainer.batch_prediction.readers import IMAGE_SUFFIXES
from trainer.batch_prediction.sources import BIGQUERY_PREFIX, BatchSource, resolve_source

FILE_LIST = "file-list.txt"  # the list written for a prefix of images, under the run's output


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
        inputs["gcs_source_uris"] = [_vertex_uri(source, default_output)]
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


def _vertex_uri(source: BatchSource, default_output: str) -> str:
    """The URI Vertex reads for a gs:// source: itself, or a file list of its images."""
    uri = source.uri
    if source.format != "file-list":
        if uri.endswith("/"):
            raise InputError(
                f"Source {uri!r} is a folder: Vertex AI reads objects or wildcards; give "
                f"{uri}*.{source.format if source.format == 'csv' else 'jsonl'}."
            )
        return uri
    if "*" not in uri and uri.lower().endswith(".txt"):
        return uri  # a file list already
    images = [name for name in files.expand(uri) if name.lower().endswith(IMAGE_SUFFIXES)]
    if not images:
        raise InputError(
            f"Source {uri!r} holds no image file ({', '.join(IMAGE_SUFFIXES)}): give a prefix "
            "of images, or a file list (.txt of gs:// URIs)."
        )
    listed = f"{default_output.rstrip('/')}/{FILE_LIST}"
    target = parse_source_uri(listed)
    if target.scheme != "gs":
        raise InputError(f"The run's output {default_output!r} is not gs://: set output_uri.")
    blob = storage_client().bucket(target.bucket).blob(target.prefix)
    blob.upload_from_string("\n".join(images) + "\n", content_type="text/plain")
    return listed


def refuse_csv_for_strings(instances_format: str, string_input: bool, source_uri: str) -> None:
    """Vertex AI sends each CSV row as a list of its values (["hello"]), which a model with a
    string input refuses for every row: such a source is refused before the job."""
    if instances_format == "csv" and string_input:
        raise InputError(
            f"Source {source_uri!r} is CSV, but this model takes strings: Vertex AI sends each "
            'CSV row as a list of its values (["hello"]), which the model refuses. Give JSONL '
            '(one JSON string, or {"b64": ...} for images, a line) instead.'
        )
