"""Offline demo for the forecasting pipeline: BigQuery SQL on a DuckDB copy of a real series.

The query is the BigQuery Standard SQL a user would run on Vertex AI; locally
it is transpiled and run on build/demo/timeseries/warehouse.duckdb. With
--source (a query or table) and `--set local_database=` (empty) it runs on
BigQuery instead, in GOOGLE_CLOUD_PROJECT (or `--set bigquery_project=...`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from pipelines.data_summary import data_summary
from trainer.timeseries.demo_data import DATASET, TABLE, write_demo_database

DEMO_QUERY = f"""SELECT date, temp_max, temp_min, precipitation
FROM `mlops-demo.{DATASET}.{TABLE}`
WHERE date BETWEEN DATE '2012-01-01' AND DATE '2015-12-31'
ORDER BY date"""
# Sized for a 2-core laptop: next week's daily maximum temperature from the last four weeks,
# against the same days a year earlier (the seasonal-naive forecast for yearly seasonality).
DEMO_TRAINING = {
    "time_column": "date",
    "target_column": "temp_max",
    "window": 28,
    "horizon": 7,
    "lstm_units": 32,
    "batch_size": 32,
    "epochs": 20,
    "learning_rate": 0.005,
    "cv_folds": 3,
    "test_fraction": 0.1,
    "season_length": 365,
}
EVALUATION_SETTINGS = ("season_length",)  # not training settings (see evaluate_forecaster)


def demo_database(build_dir: Path) -> Path:
    """build/demo/timeseries/warehouse.duckdb, written once."""
    path = build_dir / "demo" / "timeseries" / "warehouse.duckdb"
    if not path.is_file():
        write_demo_database(path)
    return path


def demo_arguments(build_dir: Path, source: str | None, overrides: dict | None = None) -> dict:
    """Pipeline arguments for the offline demo, with `overrides` on top."""
    overrides = overrides or {}
    arguments = {
        "source_query": source or DEMO_QUERY,
        "registry_uri": str((build_dir / "registry").resolve()),
        "model_name": "forecaster",
        **DEMO_TRAINING,
        **overrides,
    }
    if "local_database" not in overrides:
        arguments["local_database"] = str(demo_database(build_dir).resolve())
    if not arguments["local_database"] and "bigquery_project" not in overrides:
        arguments["bigquery_project"] = os.environ.get("GOOGLE_CLOUD_PROJECT", "")
    return arguments


def demo_task_args(build_dir: Path) -> list[str]:
    """`trainer.task timeseries` arguments for the demo query on the local DuckDB copy."""
    from trainer.tuning.trials import setting_flags

    training = {k: v for k, v in DEMO_TRAINING.items() if k not in EVALUATION_SETTINGS}
    return [
        "--source-uri",
        DEMO_QUERY,
        "--local-database",
        str(demo_database(build_dir).resolve()),
        *setting_flags(training),
    ]


def emulator_arguments(build_dir: Path, overrides: dict) -> dict:
    """Arguments of a run on the Vertex AI emulator: the demo query on BigQuery, which the
    emulator serves from the DuckDB warehouse (demo_database)."""
    arguments = demo_arguments(build_dir, None, {"local_database": "", **overrides})
    arguments.pop("registry_uri")
    arguments.pop("bigquery_project", None)
    return arguments


def example_instances(build_dir: Path, arguments: dict) -> list:
    """One window of daily maxima (°C) as long as the run's `window`, as the model takes it."""
    return [[float(9 + (day % 5)) for day in range(int(arguments["window"]))]]


def batch_source(build_dir: Path) -> dict:
    """What `make predict` predicts by default: a BigQuery query on the demo warehouse whose
    rows are each day's last `window` maxima, {"window": [...]} (DuckDB stands in)."""
    window = int(DEMO_TRAINING["window"])
    query = f"""SELECT `window` FROM (
  SELECT date, ARRAY_AGG(temp_max) OVER (
    ORDER BY date ROWS BETWEEN {window - 1} PRECEDING AND CURRENT ROW) AS `window`
  FROM `mlops-demo.{DATASET}.{TABLE}`
  WHERE date >= DATE '2015-06-01')
WHERE ARRAY_LENGTH(`window`) = {window}
ORDER BY date"""
    return {"source_uri": query, "local_database": str(demo_database(build_dir).resolve())}


@contextlib.contextmanager
def demo_run(build_dir: Path, source: str | None, overrides: dict) -> Iterator[dict]:
    """The arguments of a local run (nothing to start: DuckDB is embedded)."""
    arguments = demo_arguments(build_dir, source, overrides)
    where = arguments["local_database"] or f"BigQuery ({arguments['bigquery_project'] or 'ADC'})"
    print(f"Query runs on {where}:\n{arguments['source_query']}")
    yield arguments


def summary(outputs: dict, arguments: dict) -> list[str]:
    """What `make run` prints after a run."""
    evaluation = outputs["evaluation"].metadata
    manifest = Path(outputs["dataset"].path) / "manifest.json"
    series = outputs["training"].metadata
    return [
        f"Series:    {int(series['series_points'])} points, {int(series['series_imputed'])} "
        f"imputed ({int(series['series_missing_timestamps'])} missing timestamps, "
        f"{int(series['series_missing_values'])} missing values), "
        f"{int(series['series_duplicate_timestamps'])} duplicate timestamps merged",
        f"Test MAE: {evaluation['mae']:.4f} (seasonal naive {evaluation['baseline_mae']:.4f}), "
        f"RMSE {evaluation['rmse']:.4f}, MASE {evaluation['mase']:.3f} "
        f"({evaluation['reason']}: {'blessed' if evaluation['blessed'] else 'not blessed'})",
        f"Report:    {outputs['report'].path}",
        f"Model:     {outputs['model'].path}",
        f"Manifest:  {manifest}",
        *data_summary(outputs),
    ]
