"""The evaluation report of a forecaster: one HTML page with the plot embedded as a PNG.

The plot shows, for the test range, the observed values, the model's
one-step-ahead forecasts and the seasonal-naive baseline's; the page also
has the scores, the champion comparison and the training curves
(`trainer.evaluation.html_report`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainer.evaluation.html_report import (
    champion_section,
    decision,
    image,
    png,
    pyplot,
    table,
    training_curves_section,
    write_report,
)
from trainer.evaluation.tuning_report import tuning_section


@dataclass(frozen=True)
class ForecastPlot:
    timestamps: np.ndarray  # datetime64, the first forecast step of each window
    actual: np.ndarray  # NaN where the value was imputed
    forecast: np.ndarray
    baseline: np.ndarray
    target: str


def write_forecast_report(
    path: str | Path, plot: ForecastPlot, result: dict, curves: dict, tuning: dict | None = None
) -> None:
    """Write the report to `path` (never half-written); `curves` and `tuning` (the study
    result, if the model was tuned) from the model's metadata."""
    rows = [
        ("model", result["mae"], result["rmse"], result["mase"]),
        (
            "seasonal naive",
            result["baseline"]["mae"],
            result["baseline"]["rmse"],
            result["baseline"]["mase"],
        ),
    ]
    write_report(
        path,
        f"Forecast of {plot.target} on the test range",
        [
            decision(result),
            f"<p>Scored on {result['num_windows']} windows whose targets were all observed "
            f"({result['num_targets']} targets); {result['num_windows_imputed']} windows with "
            f"an imputed target left out; season length {result['season_length']}.</p>",
            table(["", "MAE", "RMSE", "MASE"], rows),
            image(_plot_png(plot), "forecast vs actual"),
            champion_section(result["champion"]),
            training_curves_section(curves),
            tuning_section(tuning),
        ],
    )


def _plot_png(plot: ForecastPlot) -> str:
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(11, 4), dpi=100)
    axes.plot(plot.timestamps, plot.actual, label="actual", color="black", linewidth=1)
    axes.plot(plot.timestamps, plot.forecast, label="model (1 step ahead)", linewidth=1)
    axes.plot(plot.timestamps, plot.baseline, label="seasonal naive", linewidth=1, alpha=0.6)
    axes.set_ylabel(plot.target)
    axes.legend(loc="upper right")
    figure.autofmt_xdate()
    figure.tight_layout()
    return png(figure)
