"""Evaluate an exported image classifier on the test split, through its serving signature.

Going through `serving_default` with the raw file bytes tests what will be
served (decoding included), not only the Keras model.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import tensorflow as tf

from serving.contracts.model_metadata import check_trained_classes, read_model_metadata
from trainer.evaluation.champion import NotComparable, champion_gate, check_gate_settings
from trainer.evaluation.classification_metrics import confusion_matrix, per_class_scores
from trainer.evaluation.classifier_report import write_classifier_report
from trainer.vision.ingest import read_manifest

log = logging.getLogger(__name__)


def evaluate_image_classifier(
    model_dir: str | Path,
    dataset_dir: str | Path,
    accuracy_threshold: float,
    batch_size: int = 64,
    champion_dir: str | Path | None = None,
    regression_tolerance: float = 0.01,
    report_path: str | Path | None = None,
) -> dict:
    """Accuracy, per-class precision/recall and the confusion matrix on the test split.

    `blessed` is True when accuracy reaches `accuracy_threshold` and, when
    `champion_dir` holds the model now deployed, does not fall below the
    champion's accuracy on the same test images by more than `regression_tolerance`.
    With `report_path`, also writes the HTML report (`trainer.evaluation.classifier_report`).
    """
    check_gate_settings(
        accuracy_threshold=accuracy_threshold, regression_tolerance=regression_tolerance
    )
    manifest = read_manifest(dataset_dir)
    classes = manifest["classes"]
    check_trained_classes(model_dir, dataset_dir, classes)  # before reading every image
    test = [f for f in manifest["files"] if f["split"] == "test"]
    index = {name: i for i, name in enumerate(classes)}
    actual = [index[f["label"]] for f in test]
    images = [(Path(dataset_dir) / f["path"]).read_bytes() for f in test]

    def predict(model: str | Path) -> list[int]:
        serve = tf.saved_model.load(str(model)).signatures["serving_default"]
        predicted: list[int] = []
        for start in range(0, len(images), batch_size):
            labels = serve(image_bytes=tf.constant(images[start : start + batch_size]))["label"]
            predicted += [index[label.decode()] for label in labels.numpy()]
        return predicted

    def champion_accuracy(path: Path) -> float:
        check_trained_classes(path, dataset_dir, classes, NotComparable)
        return _accuracy(confusion_matrix(actual, predict(path), len(classes)))

    matrix = confusion_matrix(actual, predict(model_dir), len(classes))
    accuracy = _accuracy(matrix)
    champion = champion_gate(
        "accuracy",
        accuracy,
        champion_dir,
        champion_accuracy,
        higher_is_better=True,
        tolerance=regression_tolerance,
    )
    meets_threshold = accuracy >= accuracy_threshold
    blessed = meets_threshold and champion.passed
    reason = (
        f"accuracy {accuracy:.4f} {'>=' if meets_threshold else '<'} threshold "
        f"{accuracy_threshold:.4f}; {champion.reason}"
    )
    log.info(
        "Test accuracy %.4f on %d images: %s (%s)",
        accuracy,
        len(test),
        "blessed" if blessed else "not blessed",
        reason,
    )
    result = {
        "accuracy": accuracy,
        "num_examples": len(test),
        "classes": classes,
        "confusion_matrix": matrix.tolist(),
        "per_class": per_class_scores(matrix, classes),
        "threshold": accuracy_threshold,
        "champion": champion.as_dict(),
        "blessed": blessed,
        "reason": reason,
    }
    if report_path:
        metadata = read_model_metadata(model_dir)
        curves, tuning = metadata.get("training_curves", {}), metadata.get("tuning")
        write_classifier_report(report_path, "Image classifier evaluation", result, curves, tuning)
    return result


def _accuracy(matrix: np.ndarray) -> float:
    return float(np.trace(matrix) / max(matrix.sum(), 1))
