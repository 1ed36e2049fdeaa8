"""Evaluate an exported image classifier on the test split, through its serving signature.

Going through `serving_default` with the raw file bytes tests what will be
served (decoding included), not only the Keras model.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import tensorflow as tf

from trainer.classification_metrics import confusion_matrix, per_class_scores
from trainer.errors import InputError
from trainer.image_ingest import read_manifest
from trainer.model_metadata import read_model_metadata

log = logging.getLogger(__name__)


def evaluate_image_classifier(
    model_dir: str | Path,
    dataset_dir: str | Path,
    accuracy_threshold: float,
    batch_size: int = 64,
) -> dict:
    """Accuracy, per-class precision/recall and the confusion matrix on the test split.

    `blessed` is True when accuracy reaches `accuracy_threshold`.
    """
    if not 0 <= accuracy_threshold <= 1:
        raise InputError(f"accuracy_threshold must be within [0, 1], got {accuracy_threshold}.")
    metadata = read_model_metadata(model_dir)
    manifest = read_manifest(dataset_dir)
    classes = manifest["classes"]
    if metadata["classes"] != classes:
        raise InputError(
            f"The model at {model_dir} was trained on classes {metadata['classes']} but the "
            f"dataset at {dataset_dir} has {classes}: evaluate on the dataset it was trained on."
        )
    test = [f for f in manifest["files"] if f["split"] == "test"]
    serve = tf.saved_model.load(str(model_dir)).signatures["serving_default"]
    index = {name: i for i, name in enumerate(classes)}
    predicted: list[int] = []
    for start in range(0, len(test), batch_size):
        chunk = test[start : start + batch_size]
        images = tf.constant([(Path(dataset_dir) / f["path"]).read_bytes() for f in chunk])
        labels = serve(image_bytes=images)["label"].numpy()
        predicted += [index[label.decode()] for label in labels]
    actual = [index[f["label"]] for f in test]
    matrix = confusion_matrix(actual, predicted, len(classes))
    accuracy = float(np.trace(matrix) / max(matrix.sum(), 1))
    blessed = accuracy >= accuracy_threshold
    reason = (
        f"accuracy {accuracy:.4f} {'>=' if blessed else '<'} threshold {accuracy_threshold:.4f}"
    )
    log.info(
        "Test accuracy %.4f on %d images: %s",
        accuracy,
        len(test),
        "blessed" if blessed else "not blessed",
    )
    return {
        "accuracy": accuracy,
        "num_examples": len(test),
        "classes": classes,
        "confusion_matrix": matrix.tolist(),
        "per_class": per_class_scores(matrix, classes),
        "threshold": accuracy_threshold,
        "blessed": blessed,
        "reason": reason,
    }
