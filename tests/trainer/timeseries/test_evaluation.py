"""Evaluation: the model and the seasonal-naive baseline scored on the same test windows."""

import json
import re
import shutil

import numpy as np
import pytest

from serving.contracts.errors import InputError
from tests.trainer.conftest import GAPS
from tests.trainer.timeseries.series_data import seasonal_frame, write_dataset
from trainer.timeseries.evaluation import evaluate_forecaster, season_for
from trainer.timeseries.series import read_series


@pytest.fixture(scope="module")
def evaluation(trained_forecaster, series_dataset, tmp_path_factory):
    model_dir, _ = trained_forecaster
    report = tmp_path_factory.mktemp("report") / "report.html"
    return evaluate_forecaster(model_dir, series_dataset, report_path=report), report


def test_the_baseline_is_the_value_one_season_earlier_on_the_same_windows(
    evaluation, trained_forecaster, series_dataset
):
    result, _ = evaluation
    metadata = json.loads((trained_forecaster[0] / "metadata.json").read_text())
    series = read_series(series_dataset, "ts", "value")
    test_start, window, horizon = metadata["test_start"], 24, 2
    errors, scale_terms = [], []
    for origin in range(test_start - 1, len(series.values) - horizon):
        if origin - window + 1 < 0:
            continue
        for h in range(1, horizon + 1):
            t = origin + h
            if not series.imputed[t]:
                errors.append(abs(series.values[t - 24] - series.values[t]))
    history = series.values[:test_start]
    observed = ~series.imputed[:test_start]
    for t in range(24, test_start):
        if observed[t] and observed[t - 24]:
            scale_terms.append(abs(history[t] - history[t - 24]))
    assert result["season_length"] == 24  # hourly series: a day
    assert result["num_windows"] == len(series.values) - test_start - horizon + 1
    assert result["num_windows_imputed"] == 0
    assert result["num_targets"] == result["num_windows"] * horizon
    assert result["baseline"]["mae"] == pytest.approx(np.mean(errors), rel=1e-5)
    assert result["mase"] == pytest.approx(result["mae"] / np.mean(scale_terms), rel=1e-5)
    assert result["baseline"]["rmse"] >= result["baseline"]["mae"]
    assert len(result["mae_by_step"]) == horizon


def test_the_blessing_needs_the_margin_over_the_baseline(evaluation):
    result, _ = evaluation
    bar = result["baseline"]["mae"] * (1 - 0.05)
    assert result["blessed"] == (result["mae"] <= bar)
    assert "seasonal-naive" in result["reason"]


def test_a_model_that_cannot_beat_a_perfect_baseline_is_not_blessed(trained_forecaster, tmp_path):
    """A noiseless daily cycle: the seasonal-naive forecast is exact, so nothing beats it."""
    model_dir, _ = trained_forecaster
    frame = seasonal_frame(600)
    frame["value"] = 10 + 5 * np.sin(2 * np.pi * np.arange(600) / 24)
    result = evaluate_forecaster(model_dir, write_dataset(tmp_path / "d", frame))
    assert result["baseline"]["mae"] == pytest.approx(0, abs=1e-5)
    assert not result["blessed"]


def test_the_report_embeds_the_plot_and_the_scores(evaluation):
    result, report = evaluation
    page = report.read_text()
    assert page.count("data:image/png;base64,") == 2  # forecast vs actual, training curves
    assert f"{result['mae']:.4f}" in page and f"{result['baseline']['mae']:.4f}" in page
    assert "blessed" in page
    assert f"Scored on {result['num_windows']} windows whose targets were all observed" in page
    assert "0 windows with an imputed target left out" in page
    assert "<h2>Champion</h2><p>no champion yet.</p>" in page
    assert '<img alt="training curves"' in page


def test_another_series_is_refused(trained_forecaster, tmp_path):
    model_dir, _ = trained_forecaster
    other = write_dataset(tmp_path / "other", seasonal_frame(900).iloc[300:])
    with pytest.raises(InputError, match="not the series the model"):
        evaluate_forecaster(model_dir, other)


@pytest.mark.parametrize(
    ("frequency", "season"),
    [("h", 24), ("D", 7), ("W-SUN", 52), ("MS", 12), ("QS-JAN", 4), ("7D", 1), ("min", 1)],
)
def test_season_length_follows_the_frequency(frequency, season):
    assert season_for(frequency) == season


def test_bad_settings_are_refused(trained_forecaster, series_dataset):
    model_dir, _ = trained_forecaster
    with pytest.raises(InputError, match="baseline_margin"):
        evaluate_forecaster(model_dir, series_dataset, baseline_margin=1.5)
    with pytest.raises(InputError, match="season_length 10000"):
        evaluate_forecaster(model_dir, series_dataset, season_length=10000)


def test_the_champion_forecasts_the_same_windows(trained_forecaster, series_dataset, tmp_path):
    model_dir, _ = trained_forecaster
    result = evaluate_forecaster(model_dir, series_dataset, champion_dir=model_dir)
    assert result["champion"]["champion"] == pytest.approx(result["mae"])
    assert result["champion"]["passed"] and "lower is better" in result["reason"]
    other = tmp_path / "other-window"
    shutil.copytree(model_dir, other)
    metadata = json.loads((other / "metadata.json").read_text())
    metadata["training_params"]["window"] += 1
    (other / "metadata.json").write_text(json.dumps(metadata))
    result = evaluate_forecaster(model_dir, series_dataset, champion_dir=other)
    assert result["champion"]["champion"] is None
    assert "champion not comparable (its window/horizon 25/2 differ" in result["reason"]


def test_windows_with_an_imputed_target_are_left_out_and_counted(trained_forecaster, tmp_path):
    """Three hours missing in the test range [510, 600): the five windows (of 89) whose two
    targets include one are not scored, the 84 others are, for the model and the baseline."""
    model_dir, _ = trained_forecaster
    holes = (530, 531, 560)
    dataset = write_dataset(tmp_path / "d", seasonal_frame(600, GAPS + holes))
    result = evaluate_forecaster(model_dir, dataset)
    series = read_series(dataset, "ts", "value")
    errors = [
        abs(series.values[t - 24] - series.values[t])
        for first in range(510, 599)
        if not {first, first + 1} & set(holes)
        for t in (first, first + 1)
    ]
    assert (result["num_windows"], result["num_windows_imputed"]) == (84, 5)
    assert result["num_targets"] == 168 == len(errors)
    assert result["baseline"]["mae"] == pytest.approx(np.mean(errors), rel=1e-5)
    assert "on 84 observed windows (5 with imputed targets left out)" in result["reason"]
    assert all(np.isfinite(result["mae_by_step"]))


@pytest.mark.parametrize(
    "missing",
    [range(512, 599), range(510, 600, 4)],
    ids=["a-hole-at-the-end", "every-fourth-hour"],
)
def test_a_test_range_over_the_models_limit_is_refused(trained_forecaster, missing, tmp_path):
    """Training refuses such a series; a dataset swapped in for evaluation is refused too."""
    model_dir, _ = trained_forecaster
    frame = seasonal_frame(600)
    frame.loc[list(missing), "value"] = np.nan
    dataset = write_dataset(tmp_path / "d", frame)
    with pytest.raises(
        InputError, match=f"The test range of {re.escape(str(dataset))}, .* imputed"
    ) as caught:
        evaluate_forecaster(model_dir, dataset)
    assert "max_imputed_fraction = 0.2" in str(caught.value)
