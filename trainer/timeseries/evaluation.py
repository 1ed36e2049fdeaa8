"""Score an exported forecaster on the test range against a seasonal-naive baseline.

The model is called through its serving signature with raw values (NaN where
the observation was missing), as a client would call it. The windows are those
whose forecast targets lie in the test range (stride 1); only the windows whose
targets were all observed are scored, the ones with an imputed target are left
out (an error against a guess measures nothing), and both counts are reported.
A test range more imputed than the model's `max_imputed_fraction` is refused.

Seasonal naive: the forecast for a step is the value one season earlier
(`season_length` steps; for horizons beyond a season, whole seasons earlier),
computed on the same windows from the same series. MASE divides the model's
MAE by the in-sample MAE of the one-step seasonal-naive forecast on the
training range (Hyndman & Koehler, 2006): below 1 beats it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import tensorflow as tf

from serving.contracts.errors import InputError
from serving.contracts.model_metadata import read_model_metadata
from trainer.evaluation.champion import NotComparable, champion_gate, check_gate_settings
from trainer.timeseries.imputed_share import check_range
from trainer.timeseries.report import ForecastPlot, write_forecast_report
from trainer.timeseries.series import read_series
from trainer.timeseries.training import TASK
from trainer.timeseries.windowing import WindowSpec, window_starts

log = logging.getLogger(__name__)

# Season lengths for common sampling frequencies: a day of hours, a week of days, ...
SEASONS = {"h": 24, "D": 7, "B": 5, "W": 52, "MS": 12, "ME": 12, "M": 12, "QS": 4, "QE": 4}


def evaluate_forecaster(
    model_dir: str | Path,
    dataset_dir: str | Path,
    season_length: int = 0,
    baseline_margin: float = 0.05,
    batch_size: int = 256,
    report_path: str | Path | None = None,
    champion_dir: str | Path | None = None,
    regression_tolerance: float = 0.01,
) -> dict:
    """MAE, RMSE and MASE of the model and of the seasonal-naive baseline on the test range.

    `blessed` is True when the model's MAE is at least `baseline_margin` (a
    fraction) below the baseline's. `season_length` 0 picks it from the
    series' frequency (hourly: 24, daily: 7, weekly: 52, monthly: 12). With
    `report_path`, also writes an HTML report with the forecast-vs-actual plot.
    With `champion_dir` (the model now deployed), the champion forecasts the
    same windows, and the model must not have an MAE more than
    `regression_tolerance` (a fraction) above the champion's.
    """
    check_gate_settings(
        baseline_margin=baseline_margin,
        regression_tolerance=regression_tolerance,
        season_length=season_length,
    )
    metadata = read_model_metadata(model_dir)
    if metadata.get("task") != TASK:
        raise InputError(
            f"The model at {model_dir} is a {metadata.get('task')!r} model, not a forecaster."
        )
    params = metadata["training_params"]
    series = read_series(
        dataset_dir,
        params["time_column"],
        params["target_column"],
        frequency=params["frequency"],
        imputation=params["imputation"],
    )
    test_start = int(metadata["test_start"])
    if (
        len(series.values) <= test_start
        or np.datetime_as_string(series.timestamps[test_start]) != metadata["test_start_time"]
    ):
        raise InputError(
            f"The dataset at {dataset_dir} is not the series the model at {model_dir} was "
            f"trained on (its test range started at {metadata['test_start_time']}): evaluate "
            "on the dataset it was trained on."
        )
    # The training step refused such a test range; this dataset may not be the one it read.
    limit = params["max_imputed_fraction"]
    check_range(series, f"The test range of {dataset_dir}", test_start, len(series), limit)
    season = season_length or season_for(series.frequency)
    if season < 1 or season > test_start // 2:
        raise InputError(
            f"season_length {season} does not fit the {test_start} points before the test "
            "range: give a season_length of at least 1 and at most half of them."
        )
    spec = WindowSpec(params["window"], params["horizon"])
    starts = window_starts(spec, test_start, len(series.values))
    targets = starts[:, None] + spec.window + np.arange(spec.horizon)[None, :]
    actual = series.values[targets]
    scored = ~series.imputed[targets].any(axis=1)  # windows whose targets were all observed
    if not scored.any():
        raise InputError(
            f"The test range of {dataset_dir} has no window whose {spec.horizon} targets were "
            f"all observed ({len(starts)} windows, each with an imputed target): fill the gaps "
            "in the source or narrow the time range to where the series was observed."
        )

    raw = np.where(series.imputed, np.nan, series.values).astype(np.float32)
    inputs = raw[starts[:, None] + np.arange(spec.window)[None, :]]
    forecast = _predict(model_dir, inputs, batch_size)
    seasons_back = np.ceil(np.arange(1, spec.horizon + 1) / season).astype(int) * season
    baseline = series.values[targets - seasons_back[None, :]]

    history = series.values[:test_start]
    history_observed = ~series.imputed[:test_start]
    both = history_observed[season:] & history_observed[:-season]
    scale = float(np.mean(np.abs(history[season:] - history[:-season])[both])) if both.any() else 0
    model_scores = _scores(forecast, actual, scored, scale)
    baseline_scores = _scores(baseline, actual, scored, scale)
    bar = baseline_scores["mae"] * (1 - baseline_margin)
    beats_baseline = model_scores["mae"] <= bar

    def champion_mae(path: Path) -> float:
        champion = read_model_metadata(path).get("training_params", {})
        if (champion.get("window"), champion.get("horizon")) != (spec.window, spec.horizon):
            raise NotComparable(
                f"its window/horizon {champion.get('window')}/{champion.get('horizon')} differ "
                f"from this model's {spec.window}/{spec.horizon}"
            )
        return _scores(_predict(path, inputs, batch_size), actual, scored, scale)["mae"]

    champion = champion_gate(
        "mae",
        model_scores["mae"],
        champion_dir,
        champion_mae,
        higher_is_better=False,
        tolerance=regression_tolerance,
    )
    blessed = beats_baseline and champion.passed
    num_windows, left_out = int(scored.sum()), int((~scored).sum())
    reason = (
        f"MAE {model_scores['mae']:.4f} {'<=' if beats_baseline else '>'} {bar:.4f} "
        f"(seasonal-naive MAE {baseline_scores['mae']:.4f} less {baseline_margin:.0%}) "
        f"on {num_windows} observed windows ({left_out} with imputed targets left out); "
        f"{champion.reason}"
    )
    log.info("Test range: %s: %s", reason, blessed)
    result = {
        **model_scores,
        "mae_by_step": _mae_by_step(forecast, actual, scored),
        "baseline": baseline_scores,
        "season_length": season,
        "baseline_margin": baseline_margin,
        "num_windows": num_windows,  # scored: all targets observed
        "num_windows_imputed": left_out,  # an imputed target: left out
        "num_targets": num_windows * spec.horizon,
        "champion": champion.as_dict(),
        "blessed": bool(blessed),
        "reason": reason,
    }
    if report_path:
        write_forecast_report(
            report_path,
            ForecastPlot(
                timestamps=series.timestamps[targets[:, 0]],
                actual=np.where(series.imputed[targets[:, 0]], np.nan, actual[:, 0]),
                forecast=forecast[:, 0],
                baseline=baseline[:, 0],
                target=params["target_column"],
            ),
            result,
            metadata.get("training_curves", {}),
            metadata.get("tuning"),
        )
    return result


def season_for(frequency: str) -> int:
    """The usual season length for a pandas frequency alias; 1 (plain naive) when none applies."""
    return SEASONS.get(frequency.split("-")[0], 1)  # "W-SUN" is weekly


def _predict(model_dir: str | Path, inputs: np.ndarray, batch_size: int) -> np.ndarray:
    serve = tf.saved_model.load(str(model_dir)).signatures["serving_default"]
    batches = [
        serve(window=tf.constant(inputs[i : i + batch_size]))["forecast"].numpy()
        for i in range(0, len(inputs), batch_size)
    ]
    return np.concatenate(batches).astype(np.float64)


def _scores(predicted: np.ndarray, actual: np.ndarray, scored: np.ndarray, scale: float) -> dict:
    errors = (predicted - actual)[scored]
    mae = float(np.mean(np.abs(errors)))
    return {
        "mae": mae,
        "rmse": float(np.sqrt(np.mean(errors**2))),
        "mase": mae / scale if scale > 0 else float("inf"),
    }


def _mae_by_step(predicted: np.ndarray, actual: np.ndarray, scored: np.ndarray) -> list[float]:
    return [float(mae) for mae in np.abs(predicted - actual)[scored].mean(axis=0)]
