"""Export a trained forecaster as a SavedModel that takes raw values and answers in raw units.

serving_default: window (float32 [N, window], the last `window` observations
in the series' own units, oldest first; NaN for a missing observation)
-> forecast (float32 [N, horizon], in the same units).

Normalisation (the training range's mean and std) and the imputed-flag
feature are inside the graph, so callers never see them. A NaN is filled
with the last observation before it (the training mean when there is none)
and flagged as imputed, as in training; at serving time the future is not
known, so forward fill is the only imputation possible.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import tensorflow as tf

from trainer.saved_model import save_servable
from trainer.timeseries.windowing import Normalizer

INPUT_NAME = "window"
OUTPUT_NAME = "forecast"


def export_forecaster(
    model: tf.keras.Model,
    model_dir: str | Path,
    normalizer: Normalizer,
    window: int,
    horizon: int,
    metadata: dict,
    attachments: Mapping[str, str | Path] | None = None,
) -> dict:
    """Write the SavedModel and `attachments`, then metadata.json (the completion marker)."""
    mean, std = tf.constant(normalizer.mean, tf.float32), tf.constant(normalizer.std, tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([None, window], tf.float32, name=INPUT_NAME)])
    def serve(values):
        filled, missing = fill_forward(values, mean)
        inputs = tf.stack([(filled - mean) / std, tf.cast(missing, tf.float32)], axis=-1)
        forecast = model(inputs, training=False) * std + mean
        return {OUTPUT_NAME: forecast}

    full_metadata = {
        **metadata,
        "input": {
            "signature": "serving_default",
            "name": INPUT_NAME,
            "shape": [None, window],
            "units": "the series' own units; NaN marks a missing observation",
        },
        "outputs": {OUTPUT_NAME: [None, horizon]},
        "normalizer": {"mean": normalizer.mean, "std": normalizer.std},
    }
    return save_servable(model_dir, serve, model.variables, full_metadata, attachments)


def fill_forward(values: tf.Tensor, default: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(values with each NaN replaced by the last non-NaN before it in its row, NaN mask).

    A NaN with nothing observed before it becomes `default`.
    """
    missing = tf.math.is_nan(values)
    positions = tf.broadcast_to(tf.range(tf.shape(values)[1]), tf.shape(values))
    last_seen = tf.where(missing, -tf.ones_like(positions), positions)
    # Running maximum along time: the position of the latest observation so far.
    last_seen = tf.transpose(tf.scan(tf.maximum, tf.transpose(last_seen)))
    filled = tf.gather(values, tf.maximum(last_seen, 0), batch_dims=1)
    return tf.where(last_seen < 0, default, filled), missing
