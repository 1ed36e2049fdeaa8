"""Batch prediction from and to Cloud Storage (the storage emulator with the real client): a
JSONL object, a `*` pattern, a prefix of files and a file list in, Vertex's layout out,
the shards copied to their final names only at the end. On the small real SavedModel of
tests/serving/conftest.py (`window` [N, 3])."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest

from pipelines.local.gcs_emulator import upload_directory
from serving.contracts.errors import InputError
from serving.contracts.storage import storage_client
from serving.server.loaded_model import LoadedModel
from tests.serving.conftest import export_scaler
from trainer.batch_prediction.output_layout import complete_shards
from trainer.batch_prediction.predict import batch_predict
from trainer.batch_prediction.sources import resolve_source

BUCKET = "batch-prediction-test"


@pytest.fixture(scope="module")
def scaler(tmp_path_factory) -> LoadedModel:
    return LoadedModel("scaler", 1, export_scaler(tmp_path_factory.mktemp("m") / "x2", 2.0))


def folder_lines(folder_uri: str) -> list:
    """The lines of an output folder on the storage emulator: results, then errors."""
    prefix = folder_uri[len(f"gs://{BUCKET}/") :]
    names = sorted(b.name.rsplit("/", 1)[1] for b in storage_client().list_blobs(BUCKET))
    assert not [n for n in names if n.startswith(".incoming-")]  # nothing staged is left
    names = [b.name for b in storage_client().list_blobs(BUCKET, prefix=f"{prefix}/")]
    shards = complete_shards([n.rsplit("/", 1)[1] for n in names])
    assert sorted(f"{prefix}/{s}" for kind in shards.values() for s in kind) == sorted(names)
    lines = []
    for kind in ("prediction.results", "prediction.errors_stats"):
        for shard in shards[kind]:
            text = storage_client().bucket(BUCKET).blob(f"{prefix}/{shard}").download_as_text()
            lines += [json.loads(x) for x in text.splitlines()]
    return lines


def test_objects_patterns_prefixes_and_file_lists(gcs_emulator, scaler, tmp_path):
    data = tmp_path / "data"
    (data / "windows").mkdir(parents=True)
    (data / "windows" / "a.jsonl").write_text("[1, 2, 3]\n[0, 0, 1]\n")
    (data / "windows" / "b.jsonl").write_text('[1, 1, 1]\n"x"\n')
    (data / "files" / "one").mkdir(parents=True)
    (data / "files" / "one" / "f.bin").write_bytes(b"\x00\x01")
    (data / "list.txt").write_text(f"gs://{BUCKET}/in/files/one/f.bin\ngs://{BUCKET}/in/nope\n")
    upload_directory(data, f"gs://{BUCKET}/in")
    out = f"gs://{BUCKET}/out"

    def run(source: str, **options) -> list:
        summary = batch_predict(scaler, resolve_source(source), out, 2, **options)
        assert summary.output_uri.startswith(f"{out}/prediction-scaler-")
        return folder_lines(summary.output_uri)

    lines = run(f"gs://{BUCKET}/in/windows/*.jsonl", shard_lines=2)
    predictions = [x["prediction"]["total"] for x in lines if "prediction" in x]
    assert predictions == [12.0, 2.0, 6.0]
    assert [x["instance"] for x in lines if "error" in x] == ["x"]
    assert len(run(f"gs://{BUCKET}/in/windows/a.jsonl")) == 2
    files = run(f"gs://{BUCKET}/in/files")  # a prefix: each file an instance ({"b64"})
    assert files[0]["instance"] == {"b64": "AAE="} and files[0]["error"]["code"] == 3
    listed = run(f"gs://{BUCKET}/in/list.txt")
    errors = {json.dumps(x["instance"]): x["error"]["message"] for x in listed}  # both errors
    assert set(errors) == {'{"b64": "AAE="}', f'"gs://{BUCKET}/in/nope"'}
    assert "does not exist" in errors[f'"gs://{BUCKET}/in/nope"']


def test_a_missing_output_bucket_is_named(gcs_emulator, scaler, tmp_path):
    (tmp_path / "in.jsonl").write_text("[1, 2, 3]\n")
    with pytest.raises(InputError, match="Output bucket 'no-such-bucket'"):
        batch_predict(scaler, resolve_source(str(tmp_path / "in.jsonl")), "gs://no-such-bucket/o")


def test_a_job_failing_half_way_leaves_nothing_in_the_bucket(gcs_emulator, scaler, tmp_path):
    """Shards already uploaded and the open one never uploaded: the job's own error, and no
    object left (staged or final)."""
    storage_client().bucket(BUCKET).blob("keep").upload_from_string("x")  # the bucket exists
    (tmp_path / "in.jsonl").write_bytes(b"[1, 2, 3]\n" * 21 + b"\xff\xfe not text\n")
    with pytest.raises(InputError, match="is not UTF-8"):  # 5 shards uploaded, 1 open
        batch_predict(
            scaler,
            resolve_source(str(tmp_path / "in.jsonl")),
            f"gs://{BUCKET}/failed",
            2,
            shard_lines=3,
        )
    assert not list(storage_client().list_blobs(BUCKET, prefix="failed"))
    assert not [b.name for b in storage_client().list_blobs(BUCKET) if ".incoming-" in b.name]


class CancelAfter(threading.Event):
    """A cancel that arrives after `rows` rows were read (the emulator's CancelBatchPredictionJob
    sets the event from another thread; its timing is what this stands in for)."""

    def __init__(self, rows: int) -> None:
        super().__init__()
        self.rows = rows

    def is_set(self) -> bool:
        self.rows -= 1
        return self.rows < 0


def test_an_emulator_job_cancelled_half_way_is_cancelled_and_leaves_nothing(gcs_emulator):
    """The emulator's batch runner, cancelled with its errors shard open (bad lines need no
    container): JobCancelled, so the job ends CANCELLED, and nothing is left in the bucket."""
    from google.cloud import aiplatform_v1 as v1

    from pipelines.emulator.vertex.batch_runner import JobCancelled, run_batch_job

    storage_client().bucket(BUCKET).blob("cancel/in.jsonl").upload_from_string("not json\n" * 5)
    job = v1.BatchPredictionJob(
        input_config={
            "instances_format": "jsonl",
            "gcs_source": {"uris": [f"gs://{BUCKET}/cancel/in.jsonl"]},
        },
        output_config={
            "predictions_format": "jsonl",
            "gcs_destination": {"output_uri_prefix": f"gs://{BUCKET}/cancelled"},
        },
    )
    job.create_time = dt.datetime.now(dt.UTC)
    with pytest.raises(JobCancelled):
        run_batch_job(job, "scaler", "http://127.0.0.1:9/unused", None, CancelAfter(3))
    assert not list(storage_client().list_blobs(BUCKET, prefix="cancelled"))
    assert not [b.name for b in storage_client().list_blobs(BUCKET) if ".incoming-" in b.name]
