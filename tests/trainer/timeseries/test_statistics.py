"""Table statistics for the forecaster: every column by its type, the series, the seasons."""

import json

from tests.trainer.timeseries.series_data import seasonal_frame
from trainer.timeseries.statistics import dataset_statistics, served_statistics

MANIFEST = {"source": "SELECT ts, value FROM weather.hourly"}


def write(directory, frame):
    directory.mkdir()
    frame.to_parquet(directory / "data.parquet", index=False)
    (directory / "manifest.json").write_text(json.dumps(MANIFEST))
    return directory


def test_columns_are_typed_and_the_series_and_seasons_reported(tmp_path):
    frame = seasonal_frame(hours=600, gaps=(5, 6))
    frame["station"] = "SEA"
    statistics = dataset_statistics(write(tmp_path / "d", frame), MANIFEST, "ts", "value", "")
    features = statistics["features"]
    assert {name: f["type"] for name, f in features.items()} == {
        "ts": "timestamp",
        "value": "numeric",
        "station": "categorical",
    }
    assert features["value"]["stats"]["count"] == 598
    assert features["ts"]["stats"]["min"].startswith("2024-01-01T00:00")
    assert statistics["details"]["series"]["missing_timestamps"] == 2
    assert set(statistics["details"]["by_month"]) == {"Jan"}
    assert len(statistics["details"]["by_hour_of_day"]) == 24


def test_a_numeric_column_turned_to_text_is_categorical(tmp_path):
    frame = seasonal_frame(hours=48)
    frame["value"] = frame["value"].map(lambda v: f"{v:.1f}".replace(".", ","))
    statistics = dataset_statistics(write(tmp_path / "d", frame), MANIFEST, "ts", "value", "")
    assert statistics["features"]["value"]["type"] == "categorical"
    assert "not built" in statistics["details"]["series"]  # training could not read it either


def test_a_time_column_kept_as_text_is_a_timestamp(tmp_path):
    frame = seasonal_frame(hours=48)
    frame["ts"] = frame["ts"].dt.strftime("%Y-%m-%d %H:%M")
    statistics = dataset_statistics(write(tmp_path / "d", frame), MANIFEST, "ts", "value", "")
    assert statistics["features"]["ts"]["type"] == "timestamp"
    assert statistics["features"]["ts"]["stats"]["max"].startswith("2024-01-02T23:00")


def test_a_missing_target_column_leaves_the_others_described(tmp_path):
    frame = seasonal_frame(hours=48).rename(columns={"value": "temp"})
    statistics = dataset_statistics(write(tmp_path / "d", frame), MANIFEST, "ts", "value", "")
    assert set(statistics["features"]) == {"ts", "temp"}
    assert "value" in statistics["details"]["series"]["not built"]


def test_served_windows_give_the_target_values():
    metadata = {"input": {"name": "window"}, "training_params": {"target_column": "temp"}}
    windows = [
        [1.0, 2.0],
        {"window": [3.0, 4.0]},
        [[5.0], [6.0]],
        "not a window",
        [[1.0], [2.0, 3.0]],
        [1.0, "x"],
        [],
    ]
    statistics = served_statistics(windows, "log", metadata)
    stats = statistics["features"]["temp"]["stats"]
    assert stats["count"] == 6 and stats["min"] == 1.0 and stats["max"] == 6.0
    # a ragged window, a window holding text and an empty one are unreadable, like text
    assert statistics["details"]["instances"] == {"served": 7, "unreadable": 4, "values": 6}
