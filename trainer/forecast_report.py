"""The evaluation report of a forecaster: one HTML page with the plot embedded as a PNG.

Vertex AI renders an HTML artifact in the run's UI; locally it opens in a
browser. The plot shows, for the test range, the observed values, the
model's one-step-ahead forecasts and the seasonal-naive baseline's.
"""

from __future__ import annotations

import base64
import html
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class ForecastPlot:
    timestamps: np.ndarray  # datetime64, the first forecast step of each window
    actual: np.ndarray  # NaN where the value was imputed
    forecast: np.ndarray
    baseline: np.ndarray
    target: str


def write_forecast_report(path: str | Path, plot: ForecastPlot, result: dict) -> None:
    """Write the report to `path` (through a temporary file, so never half-written)."""
    rows = [
        ("model", result["mae"], result["rmse"], result["mase"]),
        (
            "seasonal naive",
            result["baseline"]["mae"],
            result["baseline"]["rmse"],
            result["baseline"]["mase"],
        ),
    ]
    table = "".join(
        f"<tr><td>{name}</td><td>{mae:.4f}</td><td>{rmse:.4f}</td><td>{mase:.4f}</td></tr>"
        for name, mae, rmse, mase in rows
    )
    verdict = "blessed" if result["blessed"] else "not blessed"
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Forecast evaluation</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 10px;text-align:right}}
</style></head><body>
<h1>Forecast of {html.escape(plot.target)} on the test range</h1>
<p><b>{verdict}</b>: {html.escape(result["reason"])}</p>
<p>{result["num_windows"]} windows, {result["num_targets"]} observed targets,
season length {result["season_length"]}.</p>
<table><tr><th></th><th>MAE</th><th>RMSE</th><th>MASE</th></tr>{table}</table>
<img alt="forecast vs actual" src="data:image/png;base64,{_plot_png(plot)}">
</body></html>
"""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(page)
    os.replace(tmp, path)


def _plot_png(plot: ForecastPlot) -> str:
    import matplotlib

    matplotlib.use("Agg")  # no display; must precede pyplot
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(11, 4), dpi=100)
    axes.plot(plot.timestamps, plot.actual, label="actual", color="black", linewidth=1)
    axes.plot(plot.timestamps, plot.forecast, label="model (1 step ahead)", linewidth=1)
    axes.plot(plot.timestamps, plot.baseline, label="seasonal naive", linewidth=1, alpha=0.6)
    axes.set_ylabel(plot.target)
    axes.legend(loc="upper right")
    figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()
