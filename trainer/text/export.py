"""Export a trained text classifier as a SavedModel that takes raw strings.

serving_default: text (string [N]) -> probabilities (float [N, C]), label
(string [N], the most probable class), class_names (string [N, C]).

The hub embedding's variables and its function are saved inside this
SavedModel (`trainer.saved_model`), so serving never needs the hub module's
directory, URL or TFHUB_CACHE_DIR.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import tensorflow as tf

from trainer.saved_model import classification_outputs, save_servable
from trainer.text.model import class_probabilities

INPUT_NAME = "text"


def export_text_classifier(
    model: tf.keras.Model,
    model_dir: str | Path,
    class_names: list[str],
    metadata: dict,
    attachments: Mapping[str, str | Path] | None = None,
) -> dict:
    """Write the SavedModel and `attachments`, then metadata.json (the completion marker)."""
    names = tf.constant(class_names)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=INPUT_NAME)])
    def serve(text):
        return classification_outputs(class_probabilities(model(text, training=False)), names)

    full_metadata = {
        **metadata,
        "classes": list(class_names),
        "input": {"signature": "serving_default", "name": INPUT_NAME, "type": "string [N]"},
        "outputs": ["probabilities", "label", "class_names"],
    }
    return save_servable(model_dir, serve, model.variables, full_metadata, attachments)
