"""What the Vertex AI step hands GCPC's ModelBatchPredictOp for each kind of source and
output, and the sources Vertex cannot read, refused before a job is created."""

import pytest

from pipelines.local.gcs_emulator import upload_directory
from serving.contracts.errors import InputError
from tests.serving.conftest import export_scaler
from trainer.batch_prediction.model_input import takes_strings
from trainer.batch_prediction.readers import read_rows
from trainer.batch_prediction.sources import resolve_source
from trainer.batch_prediction.vertex_plan import refuse_csv_for_strings, vertex_job_inputs

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


def test_a_prefix_of_images_becomes_a_file_list_and_the_emulator_reads_as_vertex(
    gcs_emulator, tmp_path
):
    """Vertex reads each gcs_source_uris entry as an object or wildcard, and in file-list
    format as a list: a prefix of images becomes a list of them under the run's output, and
    the emulator's reader (as_vertex) reads a list, never a folder. On the storage emulator."""
    (tmp_path / "images" / "a").mkdir(parents=True)
    (tmp_path / "images" / "a" / "one.png").write_bytes(b"png")
    (tmp_path / "images" / "two.JPG").write_bytes(b"jpg")
    (tmp_path / "images" / "notes.md").write_text("not an image")
    upload_directory(tmp_path / "images", "gs://plan-test/images")
    run_output = "gs://plan-test/root/run-1/batch-prediction"
    inputs = vertex_job_inputs("gs://plan-test/images/", "", "", run_output)
    assert inputs["instances_format"] == "file-list"
    assert inputs["gcs_source_uris"] == [f"{run_output}/file-list.txt"]
    rows = list(read_rows(resolve_source(f"{run_output}/file-list.txt"), "", as_vertex=True))
    assert [r.instance for r in rows] == [{"b64": "cG5n"}, {"b64": "anBn"}]
    with pytest.raises(InputError, match="does not exist"):  # a folder is no object to Vertex
        list(read_rows(resolve_source("gs://plan-test/images/"), "", as_vertex=True))
    with pytest.raises(InputError, match="holds no image file"):
        vertex_job_inputs("gs://plan-test/images/notes.md", "file-list", "", run_output)
    with pytest.raises(InputError, match=r"is a folder: .* give gs://plan-test/in/\*.jsonl"):
        vertex_job_inputs("gs://plan-test/in/", "jsonl", "", run_output)


def test_csv_is_refused_for_a_model_with_a_string_input(tmp_path):
    """Vertex sends a CSV row as a list (["hello"]), which a string input refuses: read from
    saved_model.pb (a tiny real SavedModel with a string input, and the float scaler)."""
    import tensorflow as tf

    class Echo(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(self, text):
            return {"length": tf.strings.length(text)}

    echo = Echo()
    tf.saved_model.save(echo, str(tmp_path / "echo"), signatures={"serving_default": echo.serve})
    assert takes_strings(str(tmp_path / "echo"))
    assert not takes_strings(str(export_scaler(tmp_path / "scaler", 2.0)))
    with pytest.raises(InputError, match=r"is CSV, but this model takes strings.*Give JSONL"):
        refuse_csv_for_strings("csv", True, "gs://b/in.csv")
    refuse_csv_for_strings("csv", False, "gs://b/in.csv")
    refuse_csv_for_strings("jsonl", True, "gs://b/in.jsonl")
