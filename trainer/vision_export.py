"""Export a trained image classifier as a SavedModel Vertex AI and TF Serving can serve.

serving_default: image_bytes (string [N], encoded JPEG/PNG; base64 `{"b64": ...}`
in JSON requests) -> probabilities (float [N, C]), label (string [N]),
class_names (string [N, C]). Decoding is the training pipeline's own
`decode_image`, inside the graph.

Only the serving function and the model's variables are saved (a tf.Module),
not the Keras object: saving the Keras model traces every layer, which took
9 s per export and 3 s per load on the demo model, against 1 s and 0.5 s.
TF Serving and Vertex use the signature only; to train further, rebuild the
model and restore its weights from a checkpoint.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import tensorflow as tf

from trainer.artifact_dirs import building_directory, write_json
from trainer.image_dataset import decode_image
from trainer.model_metadata import METADATA

INPUT_NAME = "image_bytes"


def export_image_classifier(
    model: tf.keras.Model,
    model_dir: str | Path,
    class_names: list[str],
    image_size: int,
    metadata: dict,
) -> dict:
    """Write the SavedModel, then metadata.json (the completion marker)."""
    names = tf.constant(class_names)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=INPUT_NAME)])
    def serve(image_bytes):
        images = tf.map_fn(
            lambda b: decode_image(b, image_size),
            image_bytes,
            fn_output_signature=tf.TensorSpec([image_size, image_size, 3], tf.float32),
        )
        probabilities = model(images, training=False)
        top = tf.argmax(probabilities, axis=1)
        return {
            "probabilities": probabilities,
            "label": tf.gather(names, top),
            "class_names": tf.tile(names[tf.newaxis], [tf.shape(image_bytes)[0], 1]),
        }

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
        "tensorflow_version": tf.__version__,
        "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    with building_directory(model_dir, METADATA) as out:
        servable = tf.Module()
        servable.model_variables = model.variables
        servable.serve = serve
        tf.saved_model.save(servable, str(out), signatures={"serving_default": serve})
        write_json(out / METADATA, full_metadata)
    return full_metadata
