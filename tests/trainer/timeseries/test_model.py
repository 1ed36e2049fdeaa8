"""The forecaster is the reference guide's stacked LSTM, with its sizes configurable."""

import numpy as np
import tensorflow as tf

from trainer.timeseries.model import build_forecasting_model


def test_default_model_is_the_guides_stacked_lstm():
    model = build_forecasting_model(window=24, features=2, horizon=1)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["LSTM", "Dropout", "LSTM", "Dropout", "Dense"]
    first, _, second, _, dense = model.layers
    assert first.units == 50 and first.return_sequences
    assert second.units == 50 and not second.return_sequences
    assert model.layers[1].rate == 0.2
    assert dense.units == 1
    assert model.loss == "mse"
    scores = model.evaluate(np.zeros((2, 24, 2)), np.zeros((2, 1)), verbose=0, return_dict=True)
    assert set(scores) == {"loss", "mae"}


def test_sizes_and_horizon_are_configurable_and_shapes_follow():
    model = build_forecasting_model(
        window=12, features=2, horizon=6, lstm_units=8, lstm_layers=3, dropout=0.1
    )
    lstms = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.LSTM)]
    assert [layer.units for layer in lstms] == [8, 8, 8]
    assert [layer.return_sequences for layer in lstms] == [True, True, False]
    out = model(np.zeros((4, 12, 2), np.float32))
    assert out.shape == (4, 6)


def test_it_learns_a_simple_pattern():
    tf.keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(256, 8, 2)).astype(np.float32)
    y = x[:, -1:, 0]  # the next value is the last one
    model = build_forecasting_model(window=8, features=2, lstm_units=16, learning_rate=0.01)
    first = model.evaluate(x, y, verbose=0)[0]
    model.fit(x, y, epochs=15, verbose=0)
    assert model.evaluate(x, y, verbose=0)[0] < first / 4
