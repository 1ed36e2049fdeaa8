"""The text classifier of the reference guide: a TF Hub text embedding, then Dense layers.

    hub.KerasLayer(handle, input_shape=[], dtype=tf.string, trainable=True)
    -> Dense(16, relu) -> Dense(1, sigmoid)            (two classes)
                       -> Dense(classes, softmax)      (more)

Two classes train with binary cross-entropy on a sigmoid output; more with
sparse categorical cross-entropy on a softmax. With trainable=True the
embedding's own variables are fine-tuned with the head.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_hub as hub


def build_text_classifier(
    handle: str,
    num_classes: int,
    trainable: bool = True,
    hidden_units: int = 16,
    dropout: float = 0.0,
    learning_rate: float = 1e-3,
) -> tf.keras.Model:
    """A compiled Sequential: hub embedding, Dense(hidden_units, relu), then the output layer."""
    hub_layer = hub.KerasLayer(handle, input_shape=[], dtype=tf.string, trainable=trainable)
    binary = num_classes == 2
    model = tf.keras.Sequential(
        [
            hub_layer,
            tf.keras.layers.Dense(hidden_units, activation="relu"),
            tf.keras.layers.Dropout(dropout),
            tf.keras.layers.Dense(1, activation="sigmoid")
            if binary
            else tf.keras.layers.Dense(num_classes, activation="softmax"),
        ],
        name="text_classifier",
    )
    model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate),
        loss="binary_crossentropy" if binary else "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def class_probabilities(outputs: tf.Tensor) -> tf.Tensor:
    """[N, classes] probabilities from the model's outputs (a sigmoid's [N, 1] becomes [N, 2])."""
    if outputs.shape[-1] == 1:
        return tf.concat([1.0 - outputs, outputs], axis=-1)
    return outputs
