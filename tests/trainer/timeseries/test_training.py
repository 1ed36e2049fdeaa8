"""Training: rolling-origin folds that never see the test range, no leakage, a servable export."""

import json

import numpy as np
import pytest
import tensorflow as tf

from serving.contracts.errors import InputError
from tests.trainer.conftest import GAPS, small_forecast_config
from tests.trainer.timeseries.series_data import seasonal_frame, write_dataset
from trainer.timeseries.series import read_series
from trainer.timeseries.training import train_forecaster


def test_folds_stay_before_the_test_range_and_expand(trained_forecaster):
    model_dir, metrics = trained_forecaster
    metadata = json.loads((model_dir / "metadata.json").read_text())
    folds, test_start = metadata["folds"], metadata["test_start"]
    assert len(folds) == 2 == len(metrics["cv_fold_maes"])
    for fold in folds:
        assert fold["train_end"] == fold["validation_start"] < fold["validation_end"]
        assert fold["validation_end"] <= test_start
    assert folds[0]["train_end"] < folds[1]["train_end"]
    assert folds[0]["validation_end"] == folds[1]["validation_start"]
    assert 1 <= metrics["final_epochs"] <= 3
    assert all(m > 0 for m in metrics["cv_fold_maes"])


def test_normalisation_is_fitted_on_the_training_range_only(trained_forecaster, series_dataset):
    model_dir, _ = trained_forecaster
    metadata = json.loads((model_dir / "metadata.json").read_text())
    series = read_series(series_dataset, "ts", "value")
    train = series.values[: metadata["test_start"]]
    assert metadata["normalizer"]["mean"] == pytest.approx(float(train.mean()), rel=1e-5)
    assert metadata["normalizer"]["std"] == pytest.approx(float(train.std()), rel=1e-4)
    # The series rises: statistics over all of it would differ.
    assert float(series.values.mean()) > float(train.mean()) + 0.1


def test_gaps_are_imputed_and_counted_in_the_model_metadata(trained_forecaster):
    model_dir, _ = trained_forecaster
    metadata = json.loads((model_dir / "metadata.json").read_text())
    assert metadata["series"]["missing_timestamps"] == len(GAPS)
    assert metadata["series"]["imputed"] == len(GAPS)
    assert metadata["series"]["points"] == 600
    assert metadata["test_start_time"].startswith("2024-01-")
    assert metadata["training_metrics"]["series_imputed"] == len(GAPS)


def test_the_export_forecasts_the_next_steps_in_series_units(trained_forecaster):
    model_dir, _ = trained_forecaster
    serve = tf.saved_model.load(str(model_dir)).signatures["serving_default"]
    frame = seasonal_frame(600)
    window = frame["value"].to_numpy(np.float32)[-26:-2]
    forecast = serve(window=tf.constant(window[None]))["forecast"].numpy()
    assert forecast.shape == (1, 2)
    # Three epochs on a daily cycle of amplitude 5 around ~15: the right range, not a fit check.
    assert 5 < forecast.mean() < 25


def test_a_finished_model_is_refused_before_training(trained_forecaster, series_dataset):
    model_dir, _ = trained_forecaster
    with pytest.raises(FileExistsError, match="already holds a trained model"):
        train_forecaster(series_dataset, model_dir, small_forecast_config())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cv_folds": -1}, "cv_folds"),
        ({"dropout": 1.0}, "dropout"),
        ({"test_fraction": 0.0}, "test_fraction"),
        ({"window": 0}, "window"),
        ({"epochs": 0}, "epochs"),
        ({"target_column": "temperature"}, "temperature"),
        (
            {"max_imputed_fraction": 1.5},
            "max_imputed_fraction=1.5 is out of range: it must be from 0 to 1",
        ),
        ({"max_imputed_fraction": -0.1}, "max_imputed_fraction"),
        ({"max_imputed_fraction": float("nan")}, "max_imputed_fraction"),
    ],
)
def test_bad_settings_are_named(overrides, message, series_dataset, tmp_path):
    with pytest.raises(InputError, match=message):
        train_forecaster(series_dataset, tmp_path / "m", small_forecast_config(**overrides))
    assert not (tmp_path / "m").exists()


def test_a_series_too_short_for_the_windows_is_refused(tmp_path):
    dataset = write_dataset(tmp_path / "short", seasonal_frame(30))
    with pytest.raises(InputError, match="30"):
        train_forecaster(dataset, tmp_path / "m", small_forecast_config())
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize(
    ("frame", "overrides", "message"),
    [
        (seasonal_frame(430, gaps=tuple(range(5, 422))), {}, "The series, .* is 97.0% imputed"),
        (seasonal_frame(600, GAPS), {"max_imputed_fraction": 0.0}, r"= 0; its longest run"),
    ],
    ids=["a-40-day-hole", "the-setting-reaches-the-check"],
)
def test_a_series_too_imputed_is_refused_before_training(frame, overrides, message, tmp_path):
    dataset = write_dataset(tmp_path / "holey", frame)
    with pytest.raises(InputError, match=message) as caught:
        train_forecaster(dataset, tmp_path / "m", small_forecast_config(**overrides))
    assert "max_imputed_fraction" in str(caught.value) and caught.value.__cause__ is None
    assert not (tmp_path / "m").exists()
