"""The HTML views: a dataset's statistics, and a validation or monitoring verdict.

Self-contained pages (Vertex AI shows an HTML artifact in the run's UI; locally it
opens in a browser), with each distribution drawn as a small inline SVG bar chart.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from trainer.data_validation.anomalies import Anomaly
from trainer.data_validation.drift import FeatureDistance
from trainer.data_validation.feature_stats import CATEGORICAL, NUMERIC
from trainer.evaluation.html_report import table, write_report

SHOWN_VALUES = 20
_BAR_W, _BAR_H = 240, 48


def write_statistics_report(path: str | Path, statistics: dict) -> None:
    dataset = statistics["dataset"]
    title = f"Data statistics: {dataset['case']}"
    intro = (
        f"<p>{dataset['examples']} examples from {html.escape(str(dataset['source']))}, "
        f"computed {html.escape(dataset['created_at'])}.</p>"
    )
    write_report(path, title, [intro, *statistics_sections(statistics)])


def statistics_sections(statistics: dict) -> list[str]:
    """Numeric features, categorical features, then the case study's own details."""
    features = statistics["features"]
    numeric = [(n, e) for n, e in sorted(features.items()) if e["type"] == NUMERIC]
    categorical = [(n, e) for n, e in sorted(features.items()) if e["type"] == CATEGORICAL]
    other = [(n, e) for n, e in sorted(features.items()) if e["type"] not in (NUMERIC, CATEGORICAL)]
    sections = []
    if numeric:
        rows = [_numeric_row(name, entry) for name, entry in numeric]
        headers = [
            "feature",
            "role",
            "count",
            "missing",
            "mean",
            "std",
            "min",
            "median",
            "max",
            "histogram",
        ]
        sections.append("<h2>Numerical features</h2>" + _raw_table(headers, rows))
    if categorical:
        rows = [_categorical_row(name, entry) for name, entry in categorical]
        headers = ["feature", "role", "count", "missing", "unique", "most frequent"]
        sections.append("<h2>Categorical features</h2>" + _raw_table(headers, rows))
    if other:
        rows = [
            (
                name,
                entry["type"],
                entry["stats"]["count"],
                entry["stats"]["missing"],
                entry["stats"].get("min", ""),
                entry["stats"].get("max", ""),
            )
            for name, entry in other
        ]
        sections.append(
            "<h2>Other features</h2>"
            + table(["feature", "type", "count", "missing", "min", "max"], rows)
        )
    for key, value in statistics.get("details", {}).items():
        sections.append(
            f"<h2>{html.escape(key.replace('_', ' ').capitalize())}</h2>" + _detail(value)
        )
    return sections


def write_verdict_report(
    path: str | Path,
    title: str,
    verdict: str,
    facts: Sequence[tuple[str, str]],
    anomalies: Sequence[Anomaly],
    distances: dict[str, Sequence[FeatureDistance]],
    statistics: dict,
) -> None:
    """A validation or monitoring page: the verdict, its facts, anomalies, distances, statistics.

    `distances`: the comparisons by what was compared with (e.g. "the champion's training data").
    """
    sections = [f"<p><b>{html.escape(verdict)}</b></p>", table(["", ""], facts)]
    if anomalies:
        rows = [(a.feature, a.kind.replace("_", " "), a.expected, a.found) for a in anomalies]
        sections.append(
            "<h2>Anomalies</h2>" + table(["feature", "anomaly", "expected", "found"], rows)
        )
    for against, found in distances.items():
        rows = [
            (
                d.feature,
                d.metric.replace("_", " "),
                d.distance,
                d.threshold if d.threshold else "not watched",
                "over the threshold" if d.exceeded else "within",
            )
            for d in found
        ]
        sections.append(
            f"<h2>Distances from {html.escape(against)}</h2>"
            + (
                table(["feature", "metric", "distance", "threshold", ""], rows)
                if rows
                else "<p>None.</p>"
            )
        )
    sections.append("<h2>Statistics of the data checked</h2>")
    sections.extend(statistics_sections(statistics))
    write_report(path, title, sections)


def _numeric_row(name: str, entry: dict) -> list[str]:
    stats = entry["stats"]
    cells = [name, entry["role"], stats["count"], stats["missing"]]
    if stats["count"]:
        cells += [
            stats["mean"],
            stats["std"],
            stats["min"],
            stats["quantiles"]["0.5"],
            stats["max"],
        ]
    else:
        cells += ["", "", "", "", ""]
    return [_cell(c) for c in cells] + [_bars(stats["histogram"]["counts"])]


def _categorical_row(name: str, entry: dict) -> list[str]:
    stats = entry["stats"]
    top = list(stats["frequencies"].items())[:SHOWN_VALUES]
    shown = ", ".join(f"{html.escape(v)} ({n})" for v, n in top)
    if stats["unique"] > len(top):
        shown += f", … {stats['unique'] - len(top)} more"
    cells = [name, entry["role"], stats["count"], stats["missing"], stats["unique"]]
    return [_cell(c) for c in cells] + [_bars([n for _, n in top]) + "<br>" + shown]


def _detail(value: object) -> str:
    """A nested dict or list as tables; anything else as text."""
    if isinstance(value, dict):
        if value and all(isinstance(v, dict) for v in value.values()):
            columns = sorted({k for v in value.values() for k in v})
            rows = [[key, *(v.get(c, "") for c in columns)] for key, v in value.items()]
            return table(["", *columns], rows)
        return table(["", ""], [(k, _plain(v)) for k, v in value.items()])
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        columns = list(value[0])
        return table(columns, [[row.get(c, "") for c in columns] for row in value])
    return f"<p>{html.escape(_plain(value))}</p>"


def _plain(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_plain(v)}" for k, v in value.items())
    return str(value)


def _bars(counts: Sequence[int]) -> str:
    if not counts or max(counts) <= 0:
        return ""
    width = _BAR_W / len(counts)
    bar = max(width - 1, 1)
    top = max(counts)
    rects = "".join(
        f'<rect x="{i * width:.1f}" y="{_BAR_H * (1 - c / top):.1f}" width="{bar:.1f}" '
        f'height="{_BAR_H * c / top:.1f}" fill="#4a7ab7"/>'
        for i, c in enumerate(counts)
    )
    return f'<svg width="{_BAR_W}" height="{_BAR_H}" role="img">{rects}</svg>'


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def _raw_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table of cells already escaped (they hold SVG)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"
