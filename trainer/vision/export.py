"""Export a trained image classifier as a SavedModel Vertex AI and TF Serving can serve.

serving_default: image_bytes (string [N], encoded JPEG/PNG; base64 `{"b64": ...}`
in JSON requests) -> probabilities (float [N, C]), label (string [N]),
class_names (string [N, C]). Decoding is the training pipeline's own
`decode_image`, inside the graph.

Saved with `trainer.saved_model.save_servable` (serving function + variables).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import tensorflow as tf

from trainer.saved_model import classification_outputs, save_servable
from trainer.vision.dataset import decode_image

INPUT_NAME = "image_bytes"


def export_image_classifier(
    model: tf.keras.Model,
    model_dir: str | Path,
    class_names: list[str],
    image_size: int,
    metadata: dict,
    attachments: Mapping[str, str | Path] | None = None,
) -> dict:
    """Write the SavedModel and `attachments`, then metadata.json (the completion marker)."""
    names = tf.constant(class_names)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=INPUT_NAME)])
    def serve(image_bytes):
        images = tf.map_fn(
            lambda b: decode_image(b, image_size),
            image_bytes,
            fn_output_signature=tf.TensorSpec([image_size, image_size, 3], tf.float32),
        )
        return classification_outputs(model(images, training=False), names)

    full_metadata = {
        **metadata,
        "classes": list(class_names),
        "input": {
            "signature": "serving_default",
            "name": INPUT_NAME,
            "encoding": "JPEG or PNG bytes; base64 as {'b64': ...} in JSON",
            "image_size": image_size,
        },
        "outputs": ["probabilities", "label", "class_names"],
    }
    return save_servable(model_dir, serve, model.variables, full_metadata, attachments)
