"""What a Keras fit leaves to keep: its per-epoch values as plain JSON."""

from __future__ import annotations

import tensorflow as tf


def history_curves(history: tf.keras.callbacks.History) -> dict:
    """The per-epoch values of a fit, as plain floats for JSON."""
    return {k: [float(v) for v in values] for k, values in history.history.items()}
