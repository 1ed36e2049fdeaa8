"""trainer/vertex_monitoring/plan.py: what a model's Vertex AI monitoring job is given.

Made from model directories in the layout training leaves (model_dirs.py): the
forecaster's window steps as array fields at the pipeline's thresholds, with the
schema and the training instances written where Vertex reads them; the classifiers'
derived features named as what Vertex cannot watch; bad settings refused by name.
"""

import csv
import io

import pytest
import yaml

from serving.contracts.errors import InputError
from tests.trainer.vertex_monitoring.model_dirs import SERIES_VALUES, classifier_dir, forecaster_dir
from trainer.vertex_monitoring.plan import (
    SCHEMA_FILE,
    TRAINING_FILE,
    TRAINING_ROWS,
    vertex_monitoring_plan,
)

OUT_URI = "gs://root/run-1/model-monitoring/monitoring"
SETTINGS = {
    "enabled": True,
    "sample_rate": 0.5,
    "interval_hours": 6,
    "alert_emails": ["ml-team@example.com"],
    "drift_threshold": 0.3,
    "drift_thresholds": {},
}


def plan(model, out, **overrides):
    return vertex_monitoring_plan(model, out, OUT_URI, **{**SETTINGS, **overrides})


def test_a_forecaster_is_watched_at_each_step_of_its_window(tmp_path):
    model = forecaster_dir(tmp_path / "model", window=4, target="temp")
    made = plan(model, tmp_path / "out", drift_thresholds={"temp": 0.2})
    lags = ["temp_lag_4", "temp_lag_3", "temp_lag_2", "temp_lag_1"]  # oldest value first
    assert made.reason == ""
    assert made.thresholds == dict.fromkeys(lags, 0.2)  # the target's own threshold
    assert made.unwatched == {"ts": "a column of the training table that a served window does "
                              "not carry"}  # fmt: skip
    assert (made.sample_rate, made.interval_hours, made.alert_emails) == (
        0.5, 6, ["ml-team@example.com"],
    )  # fmt: skip
    assert made.analysis_schema_uri == f"{OUT_URI}/{SCHEMA_FILE}"
    schema = yaml.safe_load((tmp_path / "out" / SCHEMA_FILE).read_text())
    assert schema == {
        "type": "array",
        "properties": {lag: {"type": "number"} for lag in lags},
        "required": lags,  # the order Vertex reads the array in
    }
    assert made.training_data_uri == f"{OUT_URI}/{TRAINING_FILE}"
    rows = list(csv.reader(io.StringIO((tmp_path / "out" / TRAINING_FILE).read_text())))
    assert rows[0] == lags and len(rows) == 1 + TRAINING_ROWS
    percentiles = sorted(float(v) for v in (row[0] for row in rows[1:]))
    assert percentiles[0] == min(SERIES_VALUES) and percentiles[-1] == max(SERIES_VALUES)
    for column in range(1, 4):  # every step holds the same training distribution
        assert sorted(float(row[column]) for row in rows[1:]) == percentiles
    assert rows[1] != rows[2]
    assert len(made.schema_digest) == 16
    assert made.summary()["configured"] is True


def test_the_same_window_gives_the_same_schema_digest(tmp_path):
    first = plan(forecaster_dir(tmp_path / "a", window=4), tmp_path / "out-a")
    again = plan(forecaster_dir(tmp_path / "b", window=4), tmp_path / "out-b")
    longer = plan(forecaster_dir(tmp_path / "c", window=5), tmp_path / "out-c")
    assert first.schema_digest == again.schema_digest != longer.schema_digest


def test_a_threshold_of_zero_leaves_nothing_for_vertex_to_watch(tmp_path):
    made = plan(forecaster_dir(tmp_path / "model"), tmp_path / "out", drift_thresholds={"value": 0})
    assert made.thresholds == {}
    assert made.reason == "Vertex AI can watch no field of a timeseries model's instances"
    assert made.unwatched["value"] == "its threshold is 0 (drift_thresholds)"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("case", ["vision", "text"])
def test_derived_features_of_images_and_texts_are_not_watched_by_vertex(tmp_path, case):
    made = plan(classifier_dir(tmp_path / "model", case), tmp_path / "out")
    assert made.reason == f"Vertex AI can watch no field of a {case} model's instances"
    assert made.thresholds == {} and not (tmp_path / "out").exists()
    derived = {name for name in made.unwatched if name != "label"}
    assert derived and all("derived from the" in made.unwatched[name] for name in derived)
    assert made.unwatched["label"] == "a training label: served instances have none"


def test_monitoring_off_or_no_baseline_configures_nothing(tmp_path):
    model = forecaster_dir(tmp_path / "model")
    assert plan(model, tmp_path / "out", enabled=False).reason == "model_monitoring is off"
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "metadata.json").write_text("{}")
    assert plan(tmp_path / "old", tmp_path / "out").reason == (
        "the model keeps no data baseline to compare traffic with"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"sample_rate": 0.0}, "monitoring_sample_rate=0.0 is out of range: it must be above 0"),
        ({"interval_hours": 0}, "monitoring_interval_hours=0 is out of range"),
        ({"alert_emails": ["ml-team"]}, "monitoring_alert_emails has ['ml-team'], which are not"),
        ({"alert_emails": "a@b.com"}, "monitoring_alert_emails='a@b.com' is not a list of"),
        ({"drift_thresholds": {"nope": 0.1}}, "drift_thresholds names features the data does not"),
        ({"drift_thresholds": {"value": 2}}, "the threshold for 'value' is 2; use a number from"),
    ],
)
def test_bad_settings_are_refused_naming_the_parameter(tmp_path, overrides, message):
    with pytest.raises(InputError) as refused:
        plan(forecaster_dir(tmp_path / "model"), tmp_path / "out", **overrides)
    assert message in str(refused.value)
