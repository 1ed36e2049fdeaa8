"""Scores of a classifier from true and predicted class indices (and probabilities)."""

from __future__ import annotations

import numpy as np


def confusion_matrix(actual: list[int], predicted: list[int], num_classes: int) -> np.ndarray:
    """Rows are true classes, columns predicted classes."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(actual, dtype=int), np.asarray(predicted, dtype=int)), 1)
    return matrix


def per_class_scores(matrix: np.ndarray, classes: list[str]) -> dict:
    scores = {}
    for i, name in enumerate(classes):
        true_pos = matrix[i, i]
        predicted = matrix[:, i].sum()
        actual = matrix[i, :].sum()
        precision = float(true_pos / predicted) if predicted else 0.0
        recall = float(true_pos / actual) if actual else 0.0
        both = precision + recall
        scores[name] = {
            "precision": precision,
            "recall": recall,
            "f1": 2 * precision * recall / both if both else 0.0,
            "support": int(actual),
        }
    return scores


def macro_f1(per_class: dict) -> float:
    """The mean over classes of F1 (2PR / (P + R); 0 where both are 0)."""
    return float(np.mean([scores["f1"] for scores in per_class.values()]))


def roc_auc(positive_scores: np.ndarray, is_positive: np.ndarray) -> float:
    """Area under the ROC curve: the chance a random positive outscores a random negative.

    Ties count half (the Mann-Whitney U statistic); NaN without both classes.
    """
    positive_scores = np.asarray(positive_scores, dtype=float)
    is_positive = np.asarray(is_positive, dtype=bool)
    positives, negatives = positive_scores[is_positive], positive_scores[~is_positive]
    if len(positives) == 0 or len(negatives) == 0:
        return float("nan")
    greater = (positives[:, None] > negatives[None, :]).sum()
    ties = (positives[:, None] == negatives[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(positives) * len(negatives)))
