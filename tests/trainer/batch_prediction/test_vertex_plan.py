"""What the Vertex AI step hands GCPC's ModelBatchPredictOp for each kind of source and
output, and the sources Vertex cannot read, refused before a job is created."""

import pytest

from serving.contracts.errors import InputError
from trainer.batch_prediction.vertex_plan import vertex_job_inputs

RUN_OUTPUT = "gs://root/run-1/batch-prediction"


def test_files_and_tables_become_the_jobs_inputs_and_outputs():
    files = vertex_job_inputs("gs://b/in/*.csv", "csv", "", RUN_OUTPUT)
    assert files["gcs_source_uris"] == ["gs://b/in/*.csv"] and files["instances_format"] == "csv"
    assert files["gcs_destination_output_uri_prefix"] == RUN_OUTPUT
    assert files["predictions_format"] == "jsonl" and not files["bigquery_source_input_uri"]
    images = vertex_job_inputs("gs://b/images.txt", "", "gs://b/out/", RUN_OUTPUT)
    assert images["instances_format"] == "file-list"
    assert images["gcs_destination_output_uri_prefix"] == "gs://b/out"
    table = vertex_job_inputs("bq://p.d.t", "", "bq://p", RUN_OUTPUT)
    assert table["bigquery_source_input_uri"] == "bq://p.d.t" and table["instance_type"] == "object"
    assert table["predictions_format"] == "bigquery"
    assert table["bigquery_destination_output_uri"] == "bq://p"
    assert not table["gcs_source_uris"] and not table["gcs_destination_output_uri_prefix"]


@pytest.mark.parametrize(
    ("source", "output", "message"),
    [
        ("SELECT text FROM d.t", "", "reads a BigQuery table, not a query"),
        ("/home/me/in.jsonl", "", "Source '/home/me/in.jsonl' is local"),
        ("gs://b/in.jsonl", "/tmp/out", "neither gs://bucket/prefix nor bq://"),
        ("gs://b/in.jsonl", "", "instances_format 'parquet' is not one of"),
    ],
)
def test_what_vertex_cannot_read_is_refused(source, output, message):
    instances_format = "parquet" if "parquet" in message else ""
    with pytest.raises(InputError, match=message):
        vertex_job_inputs(source, instances_format, output, RUN_OUTPUT)
