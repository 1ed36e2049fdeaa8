"""A small forecaster trained once for the forecasting tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.trainer.timeseries.series_data import seasonal_frame, write_dataset

# Gaps (left-out hours) that re-indexing must find and impute.
GAPS = (100, 101, 300)


def small_forecast_config(**overrides):
    from trainer.timeseries.config import TimeseriesTrainConfig

    settings = dict(
        time_column="ts",
        target_column="value",
        window=24,
        horizon=2,
        lstm_units=8,
        batch_size=32,
        epochs=3,
        cv_folds=2,
        test_fraction=0.15,
        learning_rate=0.01,
    )
    return TimeseriesTrainConfig(**{**settings, **overrides})


@pytest.fixture(scope="session")
def series_dataset(tmp_path_factory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("series") / "dataset", seasonal_frame(600, GAPS))


@pytest.fixture(scope="session")
def trained_forecaster(series_dataset, tmp_path_factory) -> tuple[Path, dict]:
    from trainer.timeseries.training import train_forecaster

    model_dir = tmp_path_factory.mktemp("forecaster") / "model"
    metrics = train_forecaster(series_dataset, model_dir, small_forecast_config())
    return model_dir, metrics
