"""The tuning section of an evaluation report: the trials table and the metric against each
parameter, from the study result kept in the model's metadata ("tuning")."""

from __future__ import annotations

import html
from collections.abc import Mapping

import numpy as np

from trainer.evaluation.html_report import image, png, pyplot, table


def tuning_section(tuning: Mapping | None) -> str:
    """The section, or "" for a model trained without tuning."""
    if not tuning:
        return ""
    trials = tuning["trials"]
    names = sorted({name for t in trials for name in t["parameters"]})
    metric, best = tuning["metric"], tuning["best_trial"]
    rows = [
        (
            f"{t['id']}{' (best)' if t['id'] == best else ''}",
            t["state"],
            *(_value(t["parameters"].get(name, "")) for name in names),
            "" if t.get("value") is None else float(t["value"]),
            t["error"][:120],
        )
        for t in trials
    ]
    chosen = ", ".join(f"{k}={v}" for k, v in sorted(tuning["best"].items()))
    return (
        "<h2>Hyperparameter tuning</h2>"
        f"<p>{len(trials)} trials, {tuning['goal']} {html.escape(metric)}: trial {best} "
        f"({tuning['best_value']:.4f}) chose {html.escape(chosen)}.</p>"
        + table(["trial", "state", *names, metric, "error"], rows)
        + _plots(trials, names, metric, best)
    )


def _value(value: object) -> object:
    """A parameter's value to 4 significant digits (a learning rate of 0.00031 stays one)."""
    return f"{value:.4g}" if isinstance(value, float) else value


def _plots(trials: list, names: list[str], metric: str, best: str) -> str:
    scored = [t for t in trials if t.get("value") is not None]
    if not scored or not names:
        return ""
    plt = pyplot()
    figure, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.2), dpi=100)
    for axis, name in zip(np.atleast_1d(axes), names, strict=True):
        values = [t["parameters"].get(name) for t in scored]
        numeric = all(isinstance(v, int | float) for v in values)
        labels = sorted({str(v) for v in values})
        xs = values if numeric else [labels.index(str(v)) for v in values]
        colors = ["#d62728" if t["id"] == best else "#1f77b4" for t in scored]
        axis.scatter(xs, [t["value"] for t in scored], c=colors)
        if not numeric:
            axis.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
        axis.set_xlabel(name)
        axis.set_ylabel(metric)
    figure.tight_layout()
    return image(png(figure), f"{metric} against each parameter")
