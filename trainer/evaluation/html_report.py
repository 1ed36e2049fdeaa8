"""Pieces of the evaluation reports: one self-contained HTML page, plots embedded as PNG.

Vertex AI renders an HTML artifact in the run's UI; locally the file opens in
a browser. Every report has the decision and its reason, a metrics table,
the comparison with the champion, and the training curves read from the
model's metadata; each case study adds its own plot (confusion matrix,
forecast vs actual).
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

_STYLE = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px}
td{text-align:right}td:first-child{text-align:left}.yes{color:#070}.no{color:#a00}"""


def write_report(path: str | Path, title: str, sections: Sequence[str]) -> None:
    """Write the page to `path` through a temporary file, so it is never half-written."""
    page = (
        f'<!doctype html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body>\n<h1>{html.escape(title)}</h1>\n"
        + "\n".join(sections)
        + "\n</body></html>\n"
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(page)
    os.replace(tmp, path)


def decision(result: dict) -> str:
    blessed = result["blessed"]
    verdict = "blessed" if blessed else "not blessed"
    css = "yes" if blessed else "no"
    return f'<p><b class="{css}">{verdict}</b>: {html.escape(result["reason"])}</p>'


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    def cell(value: object) -> str:
        if isinstance(value, float):
            return f"{value:.4f}"
        return html.escape(str(value))

    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def champion_section(champion: dict) -> str:
    """The challenger's and the champion's score side by side, and the verdict."""
    metric = champion["metric"]
    if champion["champion"] is None:
        return f"<h2>Champion</h2><p>{html.escape(champion['reason'])}.</p>"
    rows = [("this model", champion["challenger"]), ("champion", champion["champion"])]
    verdict = "passes" if champion["passed"] else "does not pass"
    return (
        "<h2>Champion</h2>"
        + table(["model", metric], rows)
        + f"<p>The comparison {verdict}: {html.escape(champion['reason'])}.</p>"
    )


def image(png_base64: str, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{png_base64}">'


def training_curves_section(curves: dict) -> str:
    """Per-epoch loss and metrics of each training stage, from the model's metadata."""
    stages = _stages(curves)
    if not stages:
        return "<h2>Training curves</h2><p>The model's metadata has no training curves.</p>"
    plt = pyplot()
    names = sorted({name for values in stages.values() for name in values})
    figure, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.2), dpi=100)
    for axis, name in zip(np.atleast_1d(axes), names, strict=True):
        for stage, values in stages.items():
            if name in values:
                axis.plot(range(1, len(values[name]) + 1), values[name], marker=".", label=stage)
        axis.set_title(name)
        axis.set_xlabel("epoch")
        axis.legend(fontsize="small")
    figure.tight_layout()
    return "<h2>Training curves</h2>" + image(png(figure), "training curves")


def confusion_matrix_image(matrix: Sequence[Sequence[int]], classes: Sequence[str]) -> str:
    plt = pyplot()
    values = np.asarray(matrix)
    size = max(3.5, 0.6 * len(classes) + 2)
    figure, axis = plt.subplots(figsize=(size, size), dpi=100)
    axis.imshow(values, cmap="Blues")
    axis.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    axis.set_yticks(range(len(classes)), classes)
    axis.set_xlabel("predicted")
    axis.set_ylabel("actual")
    middle = values.max() / 2 if values.size else 0
    for (row, column), count in np.ndenumerate(values):
        color = "white" if count > middle else "black"
        axis.text(column, row, str(count), ha="center", va="center", color=color)
    figure.tight_layout()
    return image(png(figure), "confusion matrix")


def png(figure) -> str:
    """A matplotlib figure as base64 PNG; the figure is closed."""
    plt = pyplot()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def _stages(curves: dict) -> dict[str, dict[str, list[float]]]:
    """{stage: {metric: values}}; a single fit's {metric: values} is the stage "train"."""
    if curves and all(isinstance(v, list) for v in curves.values()):
        return {"train": curves}
    return {stage: values for stage, values in curves.items() if isinstance(values, dict)}


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")  # no display; must precede pyplot
    import matplotlib.pyplot as plt

    return plt
