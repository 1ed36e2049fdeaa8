"""The request-response log: complete JSONL files that pandas reads, on disk and in Cloud
Storage (the real client against the storage emulator), sampling, drops that are
counted, and destinations that are refused before the server starts.
"""

import io
import logging
import math
import os
import random
import re
import threading
import time

import pandas as pd
import pytest
from prometheus_client import REGISTRY

from serving.contracts.errors import InputError
from serving.contracts.storage import storage_client
from serving.server.request_log import SCHEMA_VERSION, RequestLog

NAME = re.compile(rf"requests-\d{{8}}T\d{{6}}-{os.getpid()}-\d+\.jsonl")
COLUMNS = [
    "schema_version",
    "logging_time",
    "request_id",
    "model",
    "model_version",
    "deployed_model_id",
    "instances",
    "predictions",
]
# Read as text: pandas would make "3" the number 3, and a long deployed model id a float.
TEXT = {"request_id": str, "model_version": str, "deployed_model_id": str}


def dropped() -> float:
    return REGISTRY.get_sample_value("serving_request_log_dropped_total") or 0.0


def files(directory) -> list:
    return sorted(directory.glob("requests-*.jsonl"))


def read_all(directory) -> pd.DataFrame:
    frames = [pd.read_json(path, lines=True, dtype=TEXT) for path in files(directory)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)


def record_rows(log: RequestLog, count: int, start: int = 0) -> None:
    for i in range(start, start + count):
        log.record("digits", "3", "dm-1", [{"pixels": [i, i + 1]}], [{"label": i % 5}])


def test_records_are_written_in_rotated_files_that_pandas_reads(tmp_path):
    log = RequestLog(str(tmp_path / "log"), 1.0, max_records=4)
    record_rows(log, 10)
    assert log.close()
    paths = files(tmp_path / "log")
    assert all(NAME.fullmatch(path.name) for path in paths)
    assert [len(path.read_text().splitlines()) for path in paths] == [4, 4, 2]
    assert sorted(p.name for p in (tmp_path / "log").iterdir()) == [p.name for p in paths]
    rows = read_all(tmp_path / "log")
    assert list(rows.columns) == COLUMNS
    assert (rows["schema_version"] == SCHEMA_VERSION).all()
    assert rows["instances"].tolist() == [[{"pixels": [i, i + 1]}] for i in range(10)]
    assert rows["predictions"].tolist() == [[{"label": i % 5}] for i in range(10)]
    assert set(rows["model"]) == {"digits"}
    assert set(rows["model_version"]) == {"3"}
    assert set(rows["deployed_model_id"]) == {"dm-1"}
    assert rows["request_id"].str.fullmatch(r"[0-9a-f]{32}").all()
    assert rows["request_id"].is_unique
    times = pd.to_datetime(rows["logging_time"], utc=True)
    assert (abs(pd.Timestamp.now(tz="UTC") - times) < pd.Timedelta(minutes=1)).all()


def test_a_file_is_written_when_its_first_record_is_old_enough(tmp_path):
    log = RequestLog(str(tmp_path), 1.0, max_records=1000, max_age_s=0.2)
    record_rows(log, 2)
    deadline = time.monotonic() + 5
    while not files(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(read_all(tmp_path)) == 2  # written without close()
    log.close()


def test_a_reader_never_sees_part_of_a_file(tmp_path):
    log = RequestLog(str(tmp_path), 1.0, max_records=20)
    seen: list[str] = []
    partial: list[str] = []
    stop = threading.Event()

    def read_while_written() -> None:
        while not stop.is_set():
            for path in files(tmp_path):
                text = path.read_text()
                seen.append(text)
                if not text.endswith("\n") or len(text.splitlines()) != 20:
                    partial.append(path.name)

    reader = threading.Thread(target=read_while_written)
    reader.start()
    for i in range(600):
        log.record("digits", "3", "", [{"pixels": [i] * 500}], [i])
    assert log.close()
    stop.set()
    reader.join(10)
    assert partial == []
    assert seen  # the reader did read files while they were being written
    assert len(read_all(tmp_path)) == 600


def test_only_the_sampled_fraction_is_kept(tmp_path):
    log = RequestLog(str(tmp_path / "some"), 0.3, rng=random.Random(4))
    record_rows(log, 200)
    log.close()
    replay = random.Random(4)
    kept = [i for i in range(200) if replay.random() < 0.3]
    assert read_all(tmp_path / "some")["predictions"].tolist() == [[{"label": i % 5}] for i in kept]
    none = RequestLog(str(tmp_path / "none"), 0.0)
    record_rows(none, 50)
    none.close()
    assert files(tmp_path / "none") == []


def test_a_full_queue_drops_records_and_counts_them(tmp_path):
    before = dropped()
    log = RequestLog(str(tmp_path), 1.0, queue_records=1)
    record_rows(log, 3000)
    assert log.close()
    written = len(read_all(tmp_path))
    assert dropped() - before > 0
    assert written + dropped() - before == 3000


def test_a_failed_write_is_counted_logged_once_and_the_writer_goes_on(tmp_path, caplog):
    target = tmp_path / "log"
    log = RequestLog(str(target), 1.0, max_records=1)
    target.rmdir()
    target.write_text("a file where the directory was")
    before = dropped()
    with caplog.at_level(logging.ERROR, logger="serving.server.request_log"):
        record_rows(log, 3)
        deadline = time.monotonic() + 5
        while dropped() - before < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert dropped() - before == 3
    errors = [r.getMessage() for r in caplog.records if r.name == "serving.server.request_log"]
    assert len(errors) == 1
    assert f"writing to {target} failed" in errors[0]
    target.unlink()
    target.mkdir()
    record_rows(log, 1, start=7)
    assert log.close()
    assert read_all(target)["predictions"].tolist() == [[{"label": 2}]]


def test_a_record_that_is_not_json_is_dropped_and_the_rest_written(tmp_path):
    before = dropped()
    log = RequestLog(str(tmp_path), 1.0)
    log.record("digits", "3", "", [object()], [1])
    log.record("digits", "3", "", [[1.0]], [math.nan])
    record_rows(log, 2)
    assert log.close()
    assert dropped() - before == 2
    assert len(read_all(tmp_path)) == 2


def test_after_close_records_are_dropped_and_counted(tmp_path):
    log = RequestLog(str(tmp_path), 1.0)
    assert log.close()
    before = dropped()
    record_rows(log, 2)
    assert dropped() - before == 2
    assert log.close()  # closing twice is harmless


def test_records_are_uploaded_whole_to_cloud_storage(gcs_emulator):
    client = storage_client()
    client.create_bucket("request-log-test")
    log = RequestLog("gs://request-log-test/monitoring/run1/", 1.0, max_records=2)
    record_rows(log, 5)
    assert log.close()
    blobs = sorted(client.list_blobs("request-log-test"), key=lambda blob: blob.name)
    assert [blob.name.rsplit("/", 1)[0] for blob in blobs] == ["monitoring/run1"] * 3
    assert all(NAME.fullmatch(blob.name.rsplit("/", 1)[1]) for blob in blobs)
    frames = [
        pd.read_json(io.BytesIO(blob.download_as_bytes()), lines=True, dtype=TEXT) for blob in blobs
    ]
    rows = pd.concat(frames, ignore_index=True)
    assert list(rows.columns) == COLUMNS
    assert rows["predictions"].tolist() == [[{"label": i % 5}] for i in range(5)]


@pytest.mark.parametrize(
    ("destination", "problem"),
    [
        ("gs://", "has no bucket"),
        ("gs://Not_A_Bucket!/x", "has no valid bucket name"),
        ("gs://request-log-missing/x", "bucket 'request-log-missing' does not exist"),
        ("s3://bucket/x", "Unsupported scheme 's3'"),
    ],
)
def test_an_unusable_cloud_destination_is_refused(gcs_emulator, destination, problem):
    with pytest.raises(InputError, match=f"Request log destination.*{re.escape(problem)}"):
        RequestLog(destination, 1.0)


def test_an_unusable_local_destination_is_refused(tmp_path):
    a_file = tmp_path / "file.jsonl"
    a_file.write_text("")
    with pytest.raises(InputError, match=f"{re.escape(str(a_file))}' is a file: give a dir"):
        RequestLog(str(a_file), 1.0)
    under_a_file = a_file / "logs"
    with pytest.raises(InputError, match=f"{re.escape(str(under_a_file))}' cannot be written"):
        RequestLog(str(under_a_file), 1.0)


@pytest.mark.parametrize("sample", [-0.5, 1.01, math.nan, "all"])
def test_a_sample_outside_zero_to_one_is_refused(tmp_path, sample):
    with pytest.raises(InputError, match=r"request log sample=.* is not a fraction"):
        RequestLog(str(tmp_path), sample)
