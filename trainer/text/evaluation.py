"""Evaluate an exported text classifier on the test split, through its serving signature.

Scores: accuracy, per-class precision/recall/F1, macro F1, ROC AUC (two
classes), the confusion matrix, and the majority-class baseline (always
predicting the training split's most common class). Blessed when accuracy
reaches the threshold, beats that baseline, and does not regress from the
champion's on the same texts (`trainer.evaluation.champion`).
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np
import tensorflow as tf

from serving.contracts.errors import InputError
from serving.contracts.model_metadata import check_trained_classes, read_model_metadata
from trainer.evaluation.champion import NotComparable, champion_gate, check_gate_settings
from trainer.evaluation.classification_metrics import (
    confusion_matrix,
    macro_f1,
    per_class_scores,
    roc_auc,
)
from trainer.evaluation.classifier_report import write_classifier_report
from trainer.text.ingest import read_text_manifest, read_text_split
from trainer.text.training import label_ids

log = logging.getLogger(__name__)


def evaluate_text_classifier(
    model_dir: str | Path,
    dataset_dir: str | Path,
    accuracy_threshold: float,
    batch_size: int = 256,
    champion_dir: str | Path | None = None,
    regression_tolerance: float = 0.01,
    report_path: str | Path | None = None,
) -> dict:
    """Scores on the test split; `blessed` needs accuracy >= threshold and > the baseline's,
    and no regression beyond `regression_tolerance` from the champion at `champion_dir`.
    With `report_path`, also writes the HTML report (`trainer.evaluation.classifier_report`)."""
    check_gate_settings(
        accuracy_threshold=accuracy_threshold, regression_tolerance=regression_tolerance
    )
    classes = read_text_manifest(dataset_dir)["classes"]
    texts, labels = read_text_split(dataset_dir, "test")
    if not texts:
        raise InputError(f"The test split of {dataset_dir} is empty: re-ingest with more data.")
    actual = label_ids(labels, classes)
    check_trained_classes(model_dir, dataset_dir, classes)

    def probabilities_of(model: str | Path) -> np.ndarray:
        serve = tf.saved_model.load(str(model)).signatures["serving_default"]
        return np.concatenate(
            [
                serve(text=tf.constant(texts[i : i + batch_size]))["probabilities"].numpy()
                for i in range(0, len(texts), batch_size)
            ]
        )

    def champion_accuracy(path: Path) -> float:
        check_trained_classes(path, dataset_dir, classes, NotComparable)
        return float(np.mean(probabilities_of(path).argmax(axis=1) == actual))

    probabilities = probabilities_of(model_dir)
    predicted = probabilities.argmax(axis=1)
    matrix = confusion_matrix(actual.tolist(), predicted.tolist(), len(classes))
    per_class = per_class_scores(matrix, classes)
    accuracy = float(np.trace(matrix) / matrix.sum())
    _, train_labels = read_text_split(dataset_dir, "train")
    majority, _ = Counter(train_labels).most_common(1)[0]
    baseline = float(np.mean(np.array(labels) == majority))
    champion = champion_gate(
        "accuracy",
        accuracy,
        champion_dir,
        champion_accuracy,
        higher_is_better=True,
        tolerance=regression_tolerance,
    )
    blessed = accuracy >= accuracy_threshold and accuracy > baseline and champion.passed
    reason = (
        f"accuracy {accuracy:.4f} {'>=' if accuracy >= accuracy_threshold else '<'} threshold "
        f"{accuracy_threshold:.4f}, {'>' if accuracy > baseline else '<='} majority-class "
        f"baseline {baseline:.4f}; {champion.reason}"
    )
    log.info("Test: %d texts; %s: %s", len(texts), reason, "blessed" if blessed else "not blessed")
    result = {
        "accuracy": accuracy,
        "macro_f1": macro_f1(per_class),
        "macro_precision": float(np.mean([s["precision"] for s in per_class.values()])),
        "macro_recall": float(np.mean([s["recall"] for s in per_class.values()])),
        "num_examples": len(texts),
        "classes": classes,
        "confusion_matrix": matrix.tolist(),
        "per_class": per_class,
        "majority_class": majority,
        "baseline_accuracy": baseline,
        "threshold": accuracy_threshold,
        "champion": champion.as_dict(),
        "blessed": blessed,
        "reason": reason,
    }
    if len(classes) == 2:
        result["roc_auc"] = roc_auc(probabilities[:, 1], actual == 1)
    if report_path:
        metadata = read_model_metadata(model_dir)
        curves, tuning = metadata.get("training_curves", {}), metadata.get("tuning")
        write_classifier_report(report_path, "Text classifier evaluation", result, curves, tuning)
    return result
