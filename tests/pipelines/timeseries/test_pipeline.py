"""The whole forecasting pipeline on the kfp local runner: BigQuery SQL on the DuckDB demo copy."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from pipelines.catalog import get_pipeline
from pipelines.local.runner import run_locally
from pipelines.timeseries.demo import DEMO_QUERY, demo_arguments
from serving.registry.local_registry import LocalModelRegistry
from tests.conftest import REPO

pytestmark = pytest.mark.pipeline

# Small enough for a test, large enough that the LSTM beats last year's temperatures.
QUICK = {
    "window": 14,
    "horizon": 3,
    "lstm_units": 16,
    "epochs": 4,
    "cv_folds": 2,
    "learning_rate": 0.01,
}


def test_demo_run_is_blessed_and_registers_a_forecaster_that_serves_raw_units(tmp_path, capsys):
    arguments = demo_arguments(REPO / "build", None, QUICK)
    arguments["registry_uri"] = str(tmp_path / "registry")

    outputs = run_locally(get_pipeline("timeseries"), arguments, tmp_path / "root")

    manifest = json.loads((Path(outputs["dataset"].path) / "manifest.json").read_text())
    assert manifest["engine"] == "duckdb"
    assert manifest["query"] == DEMO_QUERY
    assert manifest["row_count"] == 1461  # 2012-2015, every day
    assert [c["name"] for c in manifest["columns"]] == [
        "date",
        "temp_max",
        "temp_min",
        "precipitation",
    ]
    assert manifest["time_range"]["min"].startswith("2012-01-01")

    assert outputs["training"].metadata["series_points"] == 1461
    evaluation = outputs["evaluation"].metadata
    assert evaluation["blessed"] is True, evaluation["reason"]
    assert evaluation["mae"] < evaluation["baseline_mae"]
    report = Path(outputs["report"].path).read_text()
    assert "data:image/png;base64," in report

    champion = LocalModelRegistry(tmp_path / "registry").champion("forecaster")
    assert champion is not None and champion.version == 1
    metadata = json.loads((champion.path / "metadata.json").read_text())
    assert metadata["series"]["frequency"] == "D"
    serve = tf.saved_model.load(str(champion.path)).signatures["serving_default"]
    data = pd.read_parquet(Path(outputs["dataset"].path) / "data.parquet")
    last_days = data["temp_max"].to_numpy(np.float32)[-14:]
    forecast = serve(window=tf.constant(last_days[None]))["forecast"].numpy()[0]
    assert forecast.shape == (3,)
    assert abs(forecast[0] - last_days[-1]) < 8  # °C, in raw units: near the last day's

    _broken_data_stops_the_next_runs_before_training(arguments, tmp_path, capsys)


# The demo query with its target changed: each is checked against the champion's schema.
BROKEN_TARGETS = {
    "shifted far outside its range": ("temp_max + 100 AS temp_max", "temp_max: out of range"),
    "turned to text": ("CAST(temp_max AS STRING) AS temp_max", "temp_max: type change"),
}


def _broken_data_stops_the_next_runs_before_training(arguments, tmp_path, capsys):
    for name, (column, anomaly) in BROKEN_TARGETS.items():
        query = DEMO_QUERY.replace("SELECT date, temp_max,", f"SELECT date, {column},")
        assert query != DEMO_QUERY
        root = tmp_path / name.replace(" ", "-")
        capsys.readouterr()
        with pytest.raises(RuntimeError, match="validate-data"):
            run_locally(get_pipeline("timeseries"), {**arguments, "source_query": query}, root)
        output = capsys.readouterr().out
        assert anomaly in output, name
        assert not list(root.glob("**/model/metadata.json")), f"{name}: nothing was trained"
    assert LocalModelRegistry(arguments["registry_uri"]).versions("forecaster") == [1]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipelines", "run", "timeseries", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )


def _quick_flags() -> list[str]:
    return [flag for key, value in QUICK.items() for flag in ("--set", f"{key}={value}")]


def test_a_tuned_model_short_of_the_margin_is_not_deployed(tmp_path):
    """Tuned first (the cheapest case study end to end): two trials at once, each
    `python -m trainer.task timeseries` in its own directory; training takes the best."""
    space = json.dumps({"lstm_units": {"values": [4, 8]}})
    result = _cli(
        "--pipeline-root", str(tmp_path / "root"),
        "--set", f"registry_uri={tmp_path / 'registry'}",
        "--set", "baseline_margin=0.99",  # never met: the model's quality does not matter here
        *_quick_flags(),
        "--set", "cv_folds=0",
        "--set", "epochs=1",
        "--set", "tuning_trials=2", "--set", "tuning_parallel_trials=2",
        "--set", "tuning_metric=train_mae", "--set", f"tuning_space={space}",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "not blessed" in result.stdout and "Deploy:    skipped" in result.stdout
    assert "seasonal naive" in result.stdout
    report_line = next(line for line in result.stdout.splitlines() if line.startswith("Report:"))
    report = Path(report_line.split(":", 1)[1].strip()).read_text()
    assert report_line.endswith(".html") and "seasonal naive" in report
    assert LocalModelRegistry(tmp_path / "registry").versions("forecaster") == []
    [study] = (tmp_path / "root").glob("**/tune-locally/study")
    assert sorted(p.name for p in (study / "trials").iterdir()) == ["1", "2"]
    [metadata] = (tmp_path / "root").glob("**/train-forecaster/model/metadata.json")
    model = json.loads(metadata.read_text())
    tuning = model["tuning"]
    assert [t["state"] for t in tuning["trials"]] == ["SUCCEEDED", "SUCCEEDED"]
    best = min(tuning["trials"], key=lambda t: t["value"])
    assert model["training_params"]["lstm_units"] == best["parameters"]["lstm_units"]
    assert "Hyperparameter tuning" in report and f"trial {best['id']} (" in report
    assert f"Tuning:    2 trials; best trial {best['id']}, train_mae" in result.stdout


def test_a_query_for_a_missing_column_fails_at_ingest_with_the_engine_message(tmp_path):
    result = _cli(
        "--source", "SELECT date, humidity FROM `mlops-demo.weather.seattle_daily`",
        "--pipeline-root", str(tmp_path / "root"),
        "--set", f"registry_uri={tmp_path / 'registry'}",
    )  # fmt: skip
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "ingest" in output and "humidity" in output
    assert not (tmp_path / "registry").exists()
