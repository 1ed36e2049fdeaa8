"""The compiled Vertex AI batch prediction pipeline on the emulator: its own step finds the
Model Registry champion, GCPC's own ModelBatchPredictOp launcher creates the
BatchPredictionJob over gRPC, and the emulator runs the model's serving container
(`python -m serving`, the project's real server on the text case study's trained model,
whose serving_default the answers are compared with) and writes Vertex's
output layout to the storage emulator. A BigQuery job (the emulator's DuckDB warehouse)
and the requests Vertex refuses go through the real JobServiceClient. Nothing is mocked."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pytest
from google.api_core import exceptions
from google.cloud import aiplatform
from google.cloud import aiplatform_v1 as v1

from pipelines.emulator.service import running_emulator
from pipelines.local.gcs_emulator import upload_directory, upload_file
from serving.contracts.storage import storage_client
from serving.registry.container_spec import container_spec
from serving.server.loaded_model import LoadedModel
from serving.server.request_format import predictions
from tests.conftest import REPO
from tests.pipelines.vertex.conftest import IMAGE
from tests.serving.conftest import export_scaler

pytestmark = pytest.mark.pipeline

BUCKET = "emulator-batch-data"
RUN_TIMEOUT_S = 300


def register(name: str, model_dir: Path) -> None:
    """Upload `model_dir` to the emulator's Cloud Storage and register it as `name`'s champion,
    with the project's serving container, as the deploy step does."""
    upload_directory(model_dir, f"gs://{BUCKET}/models/{name}")
    spec = container_spec(IMAGE)
    aiplatform.Model.upload(
        display_name=name,
        artifact_uri=f"gs://{BUCKET}/models/{name}",
        serving_container_image_uri=spec["imageUri"],
        serving_container_command=spec["command"],
        serving_container_args=spec["args"],
        serving_container_predict_route=spec["predictRoute"],
        serving_container_health_route=spec["healthRoute"],
        version_aliases=["champion"],
    )


@pytest.fixture(scope="module")
def emulator(tmp_path_factory, trained_text_model):
    """The emulator with two registered models (the text case study's and a small scaler, each
    its champion) and this process's SDK pointed at it."""
    from google.cloud.aiplatform import initializer

    saved, saved_environment = dict(vars(initializer.global_config)), dict(os.environ)
    home = tmp_path_factory.mktemp("emulator")
    warehouse = home / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("CREATE SCHEMA batch")
        connection.execute('CREATE TABLE batch.windows AS SELECT [1.0, 2.0, 3.0] AS "window"')
        connection.execute("INSERT INTO batch.windows VALUES ([0.5, 0.5, 0.5]), ([1.0])")
    with running_emulator(home, bigquery_database=warehouse, say=lambda _: None) as emulator:
        os.environ.update(emulator.client_environment)
        emulator.point_sdk()
        register("scaler", export_scaler(home / "scaler", 2.0))
        register("text", trained_text_model)
        yield emulator
        os.environ.clear()
        os.environ.update(saved_environment)
    vars(initializer.global_config).clear()
    vars(initializer.global_config).update(saved)


def compiled(out: Path) -> Path:
    """`make compile` of the batch prediction pipeline, in a fresh process (PIPELINE_IMAGE)."""
    env = {**os.environ, "PIPELINE_IMAGE": IMAGE}
    env.pop("VERTEX_NOTIFICATION_EMAILS", None)
    command = [sys.executable, "-m", "pipelines", "compile", "batch_prediction"]
    subprocess.run(
        [*command, "--out-dir", str(out)], check=True, cwd=REPO, capture_output=True, env=env
    )
    return out / "batch_prediction.yaml"


def test_the_vertex_batch_pipeline_runs_a_batch_prediction_job(
    emulator, trained_text_model, tmp_path
):
    texts = ["my parcel never arrived", "I was charged twice, please refund"]
    lines = [json.dumps({"text": texts[0]}), "not json", json.dumps(texts[1]), '{"txt": "x"}']
    (tmp_path / "instances.jsonl").write_text("\n".join(lines) + "\n")
    upload_file(tmp_path / "instances.jsonl", f"gs://{BUCKET}/batch/instances.jsonl")
    job = aiplatform.PipelineJob(
        display_name="batch-prediction",
        template_path=str(compiled(tmp_path)),
        pipeline_root=f"gs://{BUCKET}/root",
        parameter_values={
            "model_name": "text",
            "source_uri": f"gs://{BUCKET}/batch/instances.jsonl",
            "output_uri": f"gs://{BUCKET}/batch/out",
            "batch_size": 2,
        },
        enable_caching=False,
    )
    job.submit()
    run = emulator.pipelines.wait(job.resource_name, RUN_TIMEOUT_S)
    assert run.state == v1.PipelineState.PIPELINE_STATE_SUCCEEDED, run.error.message

    [request] = emulator.state.calls("CreateBatchPredictionJob")
    created = request.batch_prediction_job
    [text_model] = aiplatform.Model.list(filter='display_name="text"')
    assert created.model == f"{text_model.resource_name}@1"  # the champion, as a version
    assert created.input_config.instances_format == "jsonl"
    assert list(created.input_config.gcs_source.uris) == [f"gs://{BUCKET}/batch/instances.jsonl"]
    assert created.output_config.predictions_format == "jsonl"
    assert created.output_config.gcs_destination.output_uri_prefix == f"gs://{BUCKET}/batch/out"
    assert created.dedicated_resources.machine_spec.machine_type == "n1-standard-4"
    assert created.dedicated_resources.starting_replica_count == 1
    assert created.dedicated_resources.max_replica_count == 2
    assert created.manual_batch_tuning_parameters.batch_size == 2

    [finished] = emulator.state.children(emulator.state.parent, "batchPredictionJobs")
    assert finished.state == v1.JobState.JOB_STATE_SUCCEEDED, finished.error.message
    assert finished.completion_stats.successful_count == 2
    assert finished.completion_stats.failed_count == 2
    folder = finished.output_info.gcs_output_directory
    assert folder.startswith(f"gs://{BUCKET}/batch/out/prediction-text-")
    results = _lines(folder, "prediction.results-00000-of-00001")
    assert [r["instance"] for r in results] == [{"text": texts[0]}, texts[1]]
    expected = predictions(LoadedModel("text", 1, trained_text_model).predict(
        np.array([t.encode() for t in texts], dtype=object)))  # fmt: skip
    for got, want in zip([r["prediction"] for r in results], expected, strict=True):
        assert got["label"] == want["label"] and got["class_names"] == want["class_names"]
        assert got["probabilities"] == pytest.approx(want["probabilities"], rel=1e-5, abs=1e-6)
    errors = _lines(folder, "prediction.errors_stats-00000-of-00001")
    assert [e["instance"] for e in errors] == ["not json", {"txt": "x"}]
    assert [e["error"]["code"] for e in errors] == [3, 3]
    assert "keys ['txt']" in errors[1]["error"]["message"]


def job_client(emulator) -> v1.JobServiceClient:
    from google.auth.credentials import AnonymousCredentials

    return v1.JobServiceClient(
        transport="rest",
        client_options={"api_endpoint": emulator.rest_url},
        credentials=AnonymousCredentials(),
    )


def batch_job(**changes) -> dict:
    job = {
        "display_name": "scaler-bq",
        "model": "",
        "input_config": {
            "instances_format": "bigquery",
            "bigquery_source": {"input_uri": "bq://emulator-project.batch.windows"},
        },
        "instance_config": {"instance_type": "object"},
        "output_config": {
            "predictions_format": "jsonl",
            "gcs_destination": {"output_uri_prefix": f"gs://{BUCKET}/bq-out"},
        },
        "dedicated_resources": {
            "machine_spec": {"machine_type": "n1-standard-2"},
            "starting_replica_count": 1,
            "max_replica_count": 1,
        },
    }
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            job[section] = {**job[section], field: value}
        else:
            job[section] = value
    return job


def test_a_bigquery_job_and_what_vertex_refuses(emulator):
    client = job_client(emulator)
    parent = emulator.state.parent
    [model] = aiplatform.Model.list(filter='display_name="scaler"')
    created = client.create_batch_prediction_job(
        parent=parent, batch_prediction_job=batch_job(model=model.resource_name)
    )
    assert created.state == v1.JobState.JOB_STATE_PENDING
    done = _finished(client, created.name)
    assert done.state == v1.JobState.JOB_STATE_SUCCEEDED, done.error.message
    assert (done.completion_stats.successful_count, done.completion_stats.failed_count) == (2, 1)
    assert done.model_version_id == "1"
    results = _lines(done.output_info.gcs_output_directory, "prediction.results-00000-of-00001")
    assert results == [
        {
            "instance": {"window": [1.0, 2.0, 3.0]},
            "prediction": {"forecast": [12.0], "total": 12.0},
        },
        {"instance": {"window": [0.5, 0.5, 0.5]}, "prediction": {"forecast": [3.0], "total": 3.0}},
    ]
    listed = client.list_batch_prediction_jobs(parent=parent)
    assert created.name in [j.name for j in listed]
    with pytest.raises(exceptions.BadRequest, match="it is already JOB_STATE_SUCCEEDED"):
        client.cancel_batch_prediction_job(name=created.name)  # FAILED_PRECONDITION: 400

    # INVALID_ARGUMENT (400 over REST), as Vertex answers each, naming the field
    name = model.resource_name
    refused = {
        "machine_spec.machine_type is required": batch_job(model=name, dedicated_resources={}),
        "instances_format 'parquet' is not one the model supports": batch_job(
            model=name, input_config={
                "instances_format": "parquet", "gcs_source": {"uris": [f"gs://{BUCKET}/x"]}}),
        "instance_type does not apply to 'csv'": batch_job(model=name, input_config={
            "instances_format": "csv", "gcs_source": {"uris": [f"gs://{BUCKET}/x.csv"]}}),
        "'/tmp/x' is not a valid Cloud Storage URI": batch_job(model=name, output_config={
            "predictions_format": "jsonl", "gcs_destination": {"output_uri_prefix": "/tmp/x"}}),
        "starting_replica_count must not exceed max_replica_count": batch_job(
            model=name, dedicated_resources__starting_replica_count=3),
    }  # fmt: skip
    for message, job in refused.items():
        with pytest.raises(exceptions.BadRequest, match=re.escape(message)):
            client.create_batch_prediction_job(parent=parent, batch_prediction_job=job)
    with pytest.raises(exceptions.NotFound):
        client.create_batch_prediction_job(
            parent=parent, batch_prediction_job=batch_job(model=f"{parent}/models/404")
        )


def _lines(folder: str, name: str) -> list:
    blob = storage_client().bucket(BUCKET).blob(f"{folder[len(f'gs://{BUCKET}/') :]}/{name}")
    return [json.loads(line) for line in blob.download_as_text().splitlines()]


def _finished(client: v1.JobServiceClient, name: str) -> v1.BatchPredictionJob:
    import time

    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        job = client.get_batch_prediction_job(name=name)
        if job.end_time:
            return job
        time.sleep(0.5)
    raise AssertionError(f"{name} did not end within {RUN_TIMEOUT_S} s")


def test_the_model_lookup_names_what_exists(emulator):
    from serving.contracts.errors import InputError
    from serving.registry.vertex_models import model_version_name

    where = (emulator.project, emulator.location)
    assert model_version_name("scaler", "", *where).endswith("@1")  # the champion
    assert model_version_name("scaler", "1", *where).endswith("@1")
    with pytest.raises(InputError, match="has no version or alias 'canary'"):
        model_version_name("scaler", "canary", *where)
    with pytest.raises(InputError, match="no model named 'vision'"):
        model_version_name("vision", "", *where)
