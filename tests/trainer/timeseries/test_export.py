"""The exported forecaster takes raw values, fills gaps as training did, answers in raw units."""

import json

import numpy as np
import pytest
import tensorflow as tf

from trainer.timeseries.export import export_forecaster, fill_forward
from trainer.timeseries.model import build_forecasting_model
from trainer.timeseries.windowing import Normalizer


def test_fill_forward_uses_the_last_observation_or_the_default():
    values = tf.constant(
        [[np.nan, 1, np.nan, np.nan, 4, np.nan], [1, 2, 3, 4, 5, 6], [np.nan] * 6], tf.float32
    )
    filled, missing = fill_forward(values, tf.constant(9.0))
    np.testing.assert_array_equal(filled.numpy(), [[9, 1, 1, 1, 4, 4], [1, 2, 3, 4, 5, 6], [9] * 6])
    assert missing.numpy().sum() == 4 + 0 + 6


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    tf.keras.utils.set_random_seed(1)
    model = build_forecasting_model(window=6, features=2, horizon=3, lstm_units=4)
    normalizer = Normalizer(mean=20.0, std=5.0)
    model_dir = tmp_path_factory.mktemp("export") / "model"
    export_forecaster(model, model_dir, normalizer, 6, 3, metadata={"task": "test"})
    return model, normalizer, model_dir


def test_serving_normalises_inputs_and_returns_raw_units(exported):
    model, _, model_dir = exported
    raw = np.array([[18, 19, 21, 22, 24, 25], [30, 30, 30, 30, 30, 30]], np.float32)
    served = tf.saved_model.load(str(model_dir)).signatures["serving_default"]
    forecast = served(window=tf.constant(raw))["forecast"].numpy()
    inputs = np.stack([(raw - 20.0) / 5.0, np.zeros_like(raw)], axis=-1)
    expected = model(inputs, training=False).numpy() * 5.0 + 20.0
    np.testing.assert_allclose(forecast, expected, rtol=1e-5)
    assert forecast.shape == (2, 3)


def test_a_missing_value_is_flagged_and_forward_filled(exported):
    model, _, model_dir = exported
    raw = np.array([[18, 19, np.nan, 22, 24, 25]], np.float32)
    served = tf.saved_model.load(str(model_dir)).signatures["serving_default"]
    forecast = served(window=tf.constant(raw))["forecast"].numpy()
    filled = np.array([[18, 19, 19, 22, 24, 25]], np.float32)
    flags = np.array([[0, 0, 1, 0, 0, 0]], np.float32)
    expected = model(np.stack([(filled - 20) / 5, flags], -1), training=False).numpy() * 5 + 20
    np.testing.assert_allclose(forecast, expected, rtol=1e-5)


def test_metadata_describes_the_contract_and_marks_completion(exported):
    _, _, model_dir = exported
    metadata = json.loads((model_dir / "metadata.json").read_text())
    assert metadata["task"] == "test"
    assert metadata["input"]["shape"] == [None, 6]
    assert metadata["outputs"] == {"forecast": [None, 3]}
    assert metadata["normalizer"] == {"mean": 20.0, "std": 5.0}


def test_a_finished_export_is_never_overwritten(exported):
    model, normalizer, model_dir = exported
    with pytest.raises(FileExistsError, match="already holds a complete artifact"):
        export_forecaster(model, model_dir, normalizer, 6, 3, metadata={})
