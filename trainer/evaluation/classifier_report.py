"""The evaluation report of a classifier (images or texts): one HTML page.

The decision and why, the scores, per-class precision/recall/F1, the
confusion matrix, the champion comparison, the training curves and, for a tuned
model, its trials.
"""

from __future__ import annotations

from pathlib import Path

from trainer.evaluation.html_report import (
    champion_section,
    confusion_matrix_image,
    decision,
    table,
    training_curves_section,
    write_report,
)
from trainer.evaluation.tuning_report import tuning_section

_SCORES = ("accuracy", "macro_f1", "macro_precision", "macro_recall", "roc_auc")
_SCORES += ("baseline_accuracy", "threshold", "num_examples")


def write_classifier_report(
    path: str | Path, title: str, result: dict, curves: dict, tuning: dict | None = None
) -> None:
    """Write the report of an evaluation `result` to `path`; `curves` and `tuning` (the study
    result, if the model was tuned) from the model's metadata."""
    scores = [(name, result[name]) for name in _SCORES if name in result]
    per_class = [
        (name, s["precision"], s["recall"], s["f1"], s["support"])
        for name, s in result["per_class"].items()
    ]
    write_report(
        path,
        title,
        [
            decision(result),
            table(["score", "value"], scores),
            "<h2>Per class</h2>"
            + table(["class", "precision", "recall", "F1", "support"], per_class),
            "<h2>Confusion matrix</h2>"
            + confusion_matrix_image(result["confusion_matrix"], result["classes"]),
            champion_section(result["champion"]),
            training_curves_section(curves),
            tuning_section(tuning),
        ],
    )
