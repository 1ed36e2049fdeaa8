"""The stacked-LSTM forecaster of the reference guide, with its sizes configurable.

    LSTM(50, return_sequences=True) -> Dropout(0.2) -> LSTM(50) -> Dropout(0.2) -> Dense(horizon)

compiled with loss mse and metric mae. Inputs are windows of `features`
values per step (here: the normalised target and its imputed flag).
"""

from __future__ import annotations

import tensorflow as tf


def build_forecasting_model(
    window: int,
    features: int,
    horizon: int = 1,
    lstm_units: int = 50,
    lstm_layers: int = 2,
    dropout: float = 0.2,
    learning_rate: float = 1e-3,
) -> tf.keras.Model:
    """A compiled Sequential of `lstm_layers` stacked LSTMs and a Dense(horizon) output."""
    layers: list[tf.keras.layers.Layer] = [tf.keras.Input(shape=(window, features))]
    for i in range(lstm_layers):
        last = i == lstm_layers - 1
        layers += [
            tf.keras.layers.LSTM(lstm_units, return_sequences=not last),
            tf.keras.layers.Dropout(dropout),
        ]
    layers.append(tf.keras.layers.Dense(horizon))
    model = tf.keras.Sequential(layers, name="lstm_forecaster")
    model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate),
        loss="mse",
        metrics=["mae"],
    )
    return model
