"""The validation step's logic on real statistics files and a champion's model directory."""

import json
import logging

import numpy as np
import pytest

from serving.contracts.errors import InputError
from trainer.data_validation.baseline import BASELINE_DIR
from trainer.data_validation.feature_stats import (
    CATEGORICAL,
    NUMERIC,
    categorical_stats,
    feature,
    numeric_stats,
)
from trainer.data_validation.schema import infer_schema, write_schema
from trainer.data_validation.statistics import (
    read_statistics,
    statistics_document,
    write_statistics,
)
from trainer.data_validation.validation import DataAnomalies, stop_on_anomalies, validate_dataset

RNG = np.random.default_rng(7)


def write_data(directory, temperatures, labels):
    features = {
        "temperature": feature(NUMERIC, "column", numeric_stats(temperatures)),
        "label": feature(CATEGORICAL, "label", categorical_stats(labels)),
    }
    statistics = statistics_document("test", "memory", len(labels), features)
    write_statistics(directory, statistics)
    return statistics


@pytest.fixture
def champion(tmp_path):
    """A model directory as training leaves it: data_baseline/ beside the SavedModel."""
    model = tmp_path / "champion"
    statistics = write_data(model / BASELINE_DIR, RNG.normal(15, 5, 2000), ["a", "b"] * 1000)
    write_schema(model / BASELINE_DIR, infer_schema(statistics))
    return model


def run(tmp_path, **settings):
    result = validate_dataset(
        tmp_path / "new", tmp_path / "out", tmp_path / "report.html", **settings
    )
    stop_on_anomalies(result, settings.get("drift_action", "warn"))
    return result


def test_first_run_infers_the_schema_and_keeps_it_with_the_statistics(tmp_path):
    statistics = write_data(tmp_path / "new", [1.0, 2.0, 3.0], ["a", "b", "a"])
    result = run(tmp_path)
    assert result.anomalies == [] and result.distances == []
    assert result.schema_source == "inferred from this data"
    assert read_statistics(tmp_path / "out") == statistics
    schema = json.loads((tmp_path / "out" / "schema.json").read_text())
    assert schema["features"]["label"]["domain"] == ["a", "b"]
    assert "The data passes" in (tmp_path / "report.html").read_text()


def test_the_same_data_as_the_champion_has_no_anomaly_and_no_drift(tmp_path, champion):
    baseline = read_statistics(champion / BASELINE_DIR)
    write_statistics(tmp_path / "new", baseline)
    result = run(tmp_path, champion_uri=str(champion))
    assert result.anomalies == []
    assert {d.feature: d.distance for d in result.distances} == {"label": 0.0, "temperature": 0.0}
    assert not result.drifted and "no drift" in result.summary()


def test_anomalies_stop_the_run_naming_each_and_the_report_is_still_written(tmp_path, champion):
    write_data(tmp_path / "new", RNG.normal(60, 5, 500), ["a", "b", "c"] * 100)
    with pytest.raises(DataAnomalies) as error:
        run(tmp_path, champion_uri=str(champion))
    message = str(error.value)
    assert "temperature: out of range" in message and "label: new classes" in message
    assert "'c'" in message and "schema_uri" in message
    page = (tmp_path / "report.html").read_text()
    assert "The run stops" in page and "out of range" in page


def test_a_feature_lost_with_its_own_threshold_is_named_as_missing(tmp_path, champion):
    statistics = write_data(tmp_path / "new", RNG.normal(15, 5, 500), ["a", "b"] * 250)
    statistics["features"]["temp"] = statistics["features"].pop("temperature")  # renamed
    write_statistics(tmp_path / "new", statistics)
    with pytest.raises(DataAnomalies, match="temperature: missing feature"):
        run(tmp_path, champion_uri=str(champion), drift_thresholds={"temperature": 0.2})


def test_drift_warns_by_default_and_fails_when_asked(tmp_path, champion, caplog):
    # within the schema's range, but a shifted distribution
    write_data(tmp_path / "new", np.clip(RNG.normal(25, 3, 2000), 0, 30), ["a", "b"] * 1000)
    with caplog.at_level(logging.WARNING):
        result = run(tmp_path, champion_uri=str(champion))
    assert [d.feature for d in result.drifted] == ["temperature"]
    assert "drifted" in caplog.text
    with pytest.raises(DataAnomalies, match="temperature: jensen shannon divergence"):
        run(tmp_path, champion_uri=str(champion), drift_action="fail")
    # a feature's own threshold, here 0 (unwatched), overrides the default
    unwatched = run(
        tmp_path, champion_uri=str(champion), drift_action="fail",
        drift_thresholds={"temperature": 0},
    )  # fmt: skip
    assert unwatched.drifted == []


def test_a_pinned_schema_wins_over_the_champions(tmp_path, champion):
    write_data(tmp_path / "new", RNG.normal(15, 5, 100), ["a", "b", "c"] * 30)
    pinned = tmp_path / "pinned"
    write_schema(pinned, infer_schema(read_statistics(tmp_path / "new")))
    result = run(tmp_path, champion_uri=str(champion), schema_uri=str(pinned / "schema.json"))
    assert result.anomalies == [] and result.schema_source.startswith("pinned")


def test_a_feature_the_schema_does_not_name_is_reported_not_refused(tmp_path, champion):
    statistics = write_data(tmp_path / "new", RNG.normal(15, 5, 100), ["a", "b"] * 50)
    statistics["features"]["humidity"] = feature(NUMERIC, "column", numeric_stats([0.5, 0.7]))
    write_statistics(tmp_path / "new", statistics)
    result = run(tmp_path, champion_uri=str(champion))
    assert result.anomalies == [] and result.unchecked == ["humidity"]
    assert "humidity" in (tmp_path / "report.html").read_text()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"drift_action": "stop"}, "drift_action='stop'"),
        ({"drift_threshold": 1.5}, "drift_threshold=1.5 is out of range"),
        (
            {"drift_thresholds": {"humidity": 0.1}},
            r"features the data does not have: \['humidity'\]",
        ),
        ({"drift_thresholds": {"temperature": "high"}}, "threshold for 'temperature' is 'high'"),
    ],
)
def test_bad_settings_are_named_before_anything_is_written(tmp_path, settings, message):
    write_data(tmp_path / "new", [1.0, 2.0], ["a", "b"])
    with pytest.raises(InputError, match=message):
        run(tmp_path, **settings)
    assert not (tmp_path / "out").exists()


def test_a_champion_without_a_baseline_is_compared_with_nothing(tmp_path, caplog):
    (tmp_path / "old").mkdir()
    write_data(tmp_path / "new", [1.0, 2.0], ["a", "b"])
    with caplog.at_level(logging.WARNING):
        result = run(tmp_path, champion_uri=str(tmp_path / "old"))
    assert result.schema_source == "inferred from this data" and result.distances == []
    assert "keeps no data baseline" in caplog.text
