"""The timeseries case's data statistics: of an ingested table, and of served windows.

Features: every column of the table, typed from its Arrow type (numbers are
numeric, text and booleans categorical, TIMESTAMP and DATE timestamps, and the time
column a timestamp even when kept as text), so that a
column renamed, dropped or turned to text is an anomaly; the target column also
has a range. Served windows give the target column's values. Details: the series
report (as training will repair it: duplicates, gaps, imputed points) and the
target's distribution by month (and by hour of day for series finer than a day).
"""

from __future__ import annotations

import calendar
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from serving.contracts.errors import InputError
from trainer.data_validation.feature_stats import (
    CATEGORICAL,
    NUMERIC,
    TIMESTAMP,
    categorical_stats,
    feature,
    numeric_stats,
    timestamp_stats,
)
from trainer.data_validation.statistics import statistics_document
from trainer.timeseries.series import parse_times, prepare_series


def column_feature(column: pa.ChunkedArray) -> dict:
    """The statistics of one table column, by its Arrow type."""
    kind = column.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
        return feature(NUMERIC, "column", numeric_stats(values), str(kind))
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        times = pd.to_datetime(pd.Series(column.to_pylist()), utc=pa.types.is_timestamp(kind))
        naive = times.dt.tz_localize(None) if times.dt.tz is not None else times
        return feature(TIMESTAMP, "column", timestamp_stats(naive.to_numpy()), str(kind))
    return feature(CATEGORICAL, "column", categorical_stats(column.to_pylist()), str(kind))


def dataset_statistics(
    dataset_dir: str | Path, manifest: dict, time_column: str, target_column: str, frequency: str
) -> dict:
    """The statistics document of an ingested table (data.parquet and its manifest)."""
    table = pq.read_table(Path(dataset_dir) / "data.parquet")
    features = {name: column_feature(table[name]) for name in table.column_names}
    if time_column in features and features[time_column]["type"] == CATEGORICAL:
        features[time_column] = _text_times_feature(table[time_column], time_column)
    details = {
        "series": _series_report(table, time_column, target_column, frequency),
        **_seasons(table, time_column, target_column),
    }
    return statistics_document("timeseries", manifest["source"], table.num_rows, features, details)


def _text_times_feature(column: pa.ChunkedArray, name: str) -> dict:
    """The time column kept as text, as training reads it: timestamps (a new day is no new
    category)."""
    times = parse_times(pd.Series(column.to_pylist(), dtype=object), name)
    return feature(TIMESTAMP, "column", timestamp_stats(times.to_numpy()), f"{column.type} times")


def served_statistics(instances: list, source: str, model_metadata: dict) -> dict:
    """The statistics document of served windows (lists, or objects holding one under the
    model's input name): the values of the target column the model was trained on."""
    name = model_metadata.get("input", {}).get("name", "")
    target_column = model_metadata["training_params"]["target_column"]
    windows = [_window_values(window, name) for window in instances]
    values = [v for window in windows if window for v in window]
    features = {target_column: feature(NUMERIC, "column", numeric_stats(values), "window values")}
    unreadable = sum(not window for window in windows)
    details = {
        "instances": {"served": len(instances), "unreadable": unreadable, "values": len(values)}
    }
    return statistics_document("timeseries", source, len(instances), features, details)


def _window_values(window: object, input_name: str) -> list[float] | None:
    """The window's numbers; None unless it is a non-empty list of numbers (nested or not)."""
    if isinstance(window, dict) and input_name in window:
        window = window[input_name]  # {"window": [...]}
    if not isinstance(window, list) or not window:
        return None
    try:
        flat = np.asarray(window, dtype=object).ravel()
    except ValueError:  # ragged
        return None
    numbers = [v for v in flat if isinstance(v, int | float) and not isinstance(v, bool)]
    return [float(v) for v in numbers] if len(numbers) == len(flat) else None


def _series_report(table: pa.Table, time_column: str, target_column: str, frequency: str) -> dict:
    try:
        frame = table.select([time_column, target_column]).to_pandas()
        return prepare_series(frame, time_column, target_column, frequency=frequency).report
    except (InputError, KeyError, pa.ArrowInvalid) as exc:
        return {"not built": str(exc).splitlines()[0]}


def _seasons(table: pa.Table, time_column: str, target_column: str) -> dict:
    """The target's count, mean, std, min and max by month and, below a day, by hour."""
    names = set(table.column_names)
    if time_column not in names or target_column not in names:
        return {}
    frame = table.select([time_column, target_column]).to_pandas()
    try:
        times = parse_times(frame[time_column], time_column)
        values = pd.to_numeric(frame[target_column], errors="coerce")
    except (InputError, TypeError, ValueError):
        return {}
    data = pd.DataFrame({"time": times, "value": values}).dropna()
    if data.empty:
        return {}
    out = {"by_month": _grouped(data, data["time"].dt.month, calendar.month_abbr)}
    steps = data["time"].sort_values().diff().dropna()
    if not steps.empty and steps.median() < pd.Timedelta(days=1):
        out["by_hour_of_day"] = _grouped(
            data, data["time"].dt.hour, [f"{h:02d}h" for h in range(24)]
        )
    return out


def _grouped(data: pd.DataFrame, key: pd.Series, labels) -> dict:
    stats = data.groupby(key)["value"].agg(["count", "mean", "std", "min", "max"])
    return {
        labels[int(at)]: {name: round(float(v), 4) for name, v in row.items() if pd.notna(v)}
        for at, row in stats.iterrows()
    }
