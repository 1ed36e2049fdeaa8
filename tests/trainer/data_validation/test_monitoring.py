"""Monitoring on a model directory with a data baseline and request logs in the documented
layout: written by the server's own RequestLog, or by hand where the times must be chosen."""

import datetime as dt
import json

import numpy as np
import pytest

from serving.contracts.errors import InputError
from serving.server.request_log import RequestLog
from trainer.data_validation.baseline import BASELINE_DIR
from trainer.data_validation.feature_stats import CATEGORICAL, categorical_stats, feature
from trainer.data_validation.monitoring import traffic_monitoring
from trainer.data_validation.request_log_reader import read_request_log
from trainer.data_validation.schema import infer_schema, write_schema
from trainer.data_validation.statistics import statistics_document, write_statistics
from trainer.text.statistics import text_features

RNG = np.random.default_rng(3)
WORDS = ["parcel", "refund", "late", "charge", "login", "crash", "order", "card"]


def texts(count: int, words: tuple[int, int] = (3, 9)) -> list[str]:
    return [" ".join(RNG.choice(WORDS, RNG.integers(*words))) for _ in range(count)]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A text model's directory as training leaves it, less the SavedModel monitoring never
    loads: metadata.json and data_baseline/."""
    model = tmp_path_factory.mktemp("model")
    features, details = text_features(texts(2000))
    features["label"] = feature(CATEGORICAL, "label", categorical_stats(["a", "b"] * 1000))
    statistics = statistics_document("text", "train.csv", 2000, features, details)
    write_statistics(model / BASELINE_DIR, statistics)
    write_schema(model / BASELINE_DIR, infer_schema(statistics))
    (model / "metadata.json").write_text(json.dumps({"input": {"name": "text"}}))
    return model


def served(tmp_path, instances: list, name: str = "log") -> str:
    log = RequestLog(str(tmp_path / name), 1.0)
    for start in range(0, len(instances), 10):
        batch = instances[start : start + 10]
        log.record("text", "1", "", batch, [{"label": "a"}] * len(batch))
    assert log.close()
    return str(tmp_path / name)


def test_traffic_like_the_training_data_raises_no_alert(tmp_path, model_dir):
    result = traffic_monitoring(
        model_dir, "text", served(tmp_path, texts(200)), tmp_path / "r.html"
    )
    assert result.instances == 200 and result.alerts == []
    assert {d.feature for d in result.skew} == {
        "unreadable instances",
        "text_length",
        "text_words",
        "text_non_ascii",
    }
    assert "no alert" in (tmp_path / "r.html").read_text()


def test_shifted_traffic_raises_a_skew_alert_naming_the_feature(tmp_path, model_dir):
    long_texts = texts(200, words=(40, 60))
    result = traffic_monitoring(
        model_dir, "text", served(tmp_path, long_texts), tmp_path / "r.html"
    )
    assert {d.feature for d in result.skew if d.exceeded} >= {"text_length", "text_words"}
    assert any(alert.startswith("skew in text_length") for alert in result.alerts)
    assert "Alert" in (tmp_path / "r.html").read_text()


def write_records(directory, model: str, windows: list[tuple[dt.datetime, list]]) -> str:
    """requests-*.jsonl in the layout of docs/request-log.md, with chosen logging times."""
    directory.mkdir()
    lines = [
        json.dumps({
            "schema_version": 1, "logging_time": when.isoformat(), "request_id": f"{i:032x}",
            "model": model, "model_version": "1", "deployed_model_id": "",
            "instances": [instance], "predictions": [{"label": "a"}],
        })
        for i, (when, instances) in enumerate(windows) for instance in instances
    ]  # fmt: skip
    (directory / "requests-20250101T000000-1-0.jsonl").write_text("\n".join(lines) + "\n")
    (directory / "requests-20250101T000000-1-1.jsonl").write_text("not json\n")
    (directory / ".requests-x.tmp").write_text("a file being written is never read\n")
    return str(directory)


def test_drift_compares_the_latest_window_with_the_one_before(tmp_path, model_dir):
    now = dt.datetime(2025, 1, 2, 12, tzinfo=dt.UTC)
    log = write_records(
        tmp_path / "log",
        "text",
        [
            (now - dt.timedelta(hours=30), texts(100)),  # the previous 24 h window
            (now - dt.timedelta(hours=2), texts(100, words=(12, 16))),  # the latest
            (now, texts(50, words=(12, 16))),
            (now - dt.timedelta(days=5), texts(100, words=(50, 60))),  # older: ignored
        ],
    )
    result = traffic_monitoring(model_dir, "text", log, tmp_path / "r.html")
    assert (result.instances, result.previous_instances) == (150, 100)
    assert {d.feature for d in result.drift if d.exceeded} >= {"text_words"}
    # a smaller threshold for a feature only changes that feature's verdict
    relaxed = traffic_monitoring(
        model_dir, "text", log, tmp_path / "r.html",
        skew_threshold=1, drift_threshold=1, feature_thresholds={"text_words": 0},
    )  # fmt: skip
    assert relaxed.alerts == []


def test_traffic_the_model_cannot_read_is_an_alert(tmp_path, model_dir):
    garbage = [{"txt": t} for t in texts(150)] + [7] * 50  # a wrong key, not text
    result = traffic_monitoring(
        model_dir, "text", served(tmp_path, garbage + texts(20)), tmp_path / "r.html"
    )
    assert any(a.startswith("skew in unreadable instances: share 0.9091") for a in result.alerts)


def test_other_models_traffic_and_bad_bytes_hide_nothing(tmp_path, model_dir):
    """Vision traffic days later in the same log does not cut text's windows; a non-UTF-8
    line and a logging time without an offset (taken as UTC) spoil only their own line."""
    now = dt.datetime(2025, 1, 1, 12, tzinfo=dt.UTC)
    log = write_records(tmp_path / "log", "text", [(now, texts(30))])
    naive = json.loads(
        (tmp_path / "log" / "requests-20250101T000000-1-0.jsonl").read_text().splitlines()[0]
    )
    naive["logging_time"] = "2025-01-01T11:00:00"
    later = {**naive, "model": "vision", "logging_time": "2025-01-05T00:00:00+00:00"}
    (tmp_path / "log" / "requests-20250101T130000-1-2.jsonl").write_bytes(
        json.dumps(naive).encode() + b"\n\xff\xfe not utf-8\n"
    )
    (tmp_path / "log" / "requests-20250105T000000-1-0.jsonl").write_text(json.dumps(later))
    read = read_request_log(log, "text", within=dt.timedelta(hours=48))
    assert len(read.requests) == 31 and read.bad_lines == 2  # "not json" and the bad bytes
    assert read.requests[0].time == dt.datetime(2025, 1, 1, 11, tzinfo=dt.UTC)


def test_too_little_traffic_is_said_and_not_compared(tmp_path, model_dir):
    result = traffic_monitoring(model_dir, "text", served(tmp_path, texts(5)), tmp_path / "r.html")
    assert result.skew == [] and result.alerts == []
    assert "only 5 instances" in result.summary()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"window_hours": 0}, "window_hours=0 is out of range"),
        ({"skew_threshold": 2}, "skew_threshold=2 is out of range"),
        ({"min_instances": 0}, "min_instances=0 is out of range"),
        ({"feature_thresholds": {"brightness": 0.1}}, r"does not have: \['brightness'\]"),
        ({"version": "7"}, "No request of model 'text' version 7"),
    ],
)
def test_bad_settings_are_named(tmp_path, model_dir, settings, message):
    log = served(tmp_path, texts(30))
    with pytest.raises(InputError, match=message):
        traffic_monitoring(model_dir, "text", log, tmp_path / "r.html", **settings)


def test_a_model_without_a_baseline_or_a_missing_log_is_named(tmp_path, model_dir):
    (tmp_path / "old").mkdir()
    with pytest.raises(InputError, match="keeps no data baseline"):
        traffic_monitoring(tmp_path / "old", "text", served(tmp_path, texts(30)), tmp_path / "r")
    with pytest.raises(InputError, match="no such directory"):
        traffic_monitoring(model_dir, "text", str(tmp_path / "nowhere"), tmp_path / "r.html")


def test_files_written_before_the_two_windows_are_not_read(tmp_path):
    def record(when: str) -> str:
        return json.dumps({
            "schema_version": 1, "logging_time": when, "request_id": "0" * 32, "model": "text",
            "model_version": "1", "deployed_model_id": "", "instances": ["a text"],
            "predictions": [{"label": "a"}],
        })  # fmt: skip

    (tmp_path / "requests-20250101T000000-1-0.jsonl").write_text(
        record("2025-01-01T00:00:00+00:00")
    )
    (tmp_path / "requests-20250110T000000-1-0.jsonl").write_text(
        record("2025-01-10T00:00:00+00:00")
    )
    everything = read_request_log(str(tmp_path), "text")
    recent = read_request_log(str(tmp_path), "text", within=dt.timedelta(days=2))
    assert (everything.files, len(everything.requests)) == (2, 2)
    assert (recent.files, len(recent.requests)) == (1, 1)
    assert recent.requests[0].time == dt.datetime(2025, 1, 10, tzinfo=dt.UTC)
