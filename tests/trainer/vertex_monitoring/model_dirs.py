"""Model directories as training leaves them, less the SavedModel a monitoring plan never
loads: metadata.json and data_baseline/ (the schema and the training statistics)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from trainer.data_validation.baseline import BASELINE_DIR
from trainer.data_validation.feature_stats import (
    CATEGORICAL,
    NUMERIC,
    categorical_stats,
    feature,
    numeric_stats,
)
from trainer.data_validation.schema import infer_schema, write_schema
from trainer.data_validation.statistics import statistics_document, write_statistics
from trainer.timeseries.statistics import column_feature

SERIES_VALUES = 10 + 5 * np.sin(np.arange(500) / 12)  # daily maxima, °C


def forecaster_dir(directory: Path, window: int = 14, target: str = "value") -> Path:
    """A forecaster trained on a table of `ts` and `target`, windows of `window` values."""
    table = pa.table(
        {
            "ts": pa.array(pd.date_range("2024-01-01", periods=len(SERIES_VALUES), freq="D")),
            target: pa.array(SERIES_VALUES),
        }
    )
    features = {name: column_feature(table[name]) for name in table.column_names}
    statistics = statistics_document("timeseries", "bq://p.d.t", table.num_rows, features)
    metadata = {
        "training_params": {"target_column": target, "window": window},
        "input": {"signature": "serving_default", "name": "window", "shape": [None, window]},
    }
    return _model_dir(directory, statistics, metadata)


def classifier_dir(directory: Path, case: str) -> Path:
    """An image ("vision") or text classifier: a label and features derived from inputs."""
    derived = {
        "vision": {"image_width": [32] * 40, "image_brightness": list(range(40))},
        "text": {"text_length": list(range(40)), "text_words": [3, 4] * 20},
    }[case]
    features = {
        name: feature(NUMERIC, "derived", numeric_stats(values)) for name, values in derived.items()
    }
    features["label"] = feature(CATEGORICAL, "label", categorical_stats(["a", "b"] * 20))
    statistics = statistics_document(case, "gs://b/data", 40, features)
    return _model_dir(directory, statistics, {"input": {"name": "input"}, "classes": ["a", "b"]})


def _model_dir(directory: Path, statistics: dict, metadata: dict) -> Path:
    write_statistics(directory / BASELINE_DIR, statistics)
    write_schema(directory / BASELINE_DIR, infer_schema(statistics))
    (directory / "metadata.json").write_text(json.dumps(metadata))
    return directory
