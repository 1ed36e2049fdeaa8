"""A series, or a range of it, more imputed than max_imputed_fraction is refused by name."""

import numpy as np
import pytest

from serving.contracts.errors import InputError
from tests.trainer.timeseries.series_data import seasonal_frame
from trainer.timeseries.folds import rolling_origin_folds, test_split
from trainer.timeseries.imputed_share import check_imputed_share, check_range
from trainer.timeseries.series import Series, prepare_series
from trainer.timeseries.windowing import WindowSpec

SPEC = WindowSpec(24, 2)
LIMIT = 0.2


def _series(hours: int = 600, gaps=(), missing_values=()) -> Series:
    """Hourly series with rows left out at `gaps` and NaN values at `missing_values`."""
    frame = seasonal_frame(hours)
    frame.loc[list(missing_values), "value"] = np.nan
    frame = frame.drop(index=list(gaps))
    return prepare_series(frame, "ts", "value")


def _refusal(series: Series, folds: int = 0, limit: float = LIMIT) -> str:
    test_start = test_split(len(series), 0.15, SPEC)
    with pytest.raises(InputError) as caught:
        check_imputed_share(
            series, test_start, limit, rolling_origin_folds(test_start, folds, SPEC)
        )
    message = str(caught.value)
    assert "max_imputed_fraction" in message and f"= {limit:g}" in message
    assert "Traceback" not in message and caught.value.__cause__ is None
    return message


def test_a_long_hole_in_the_middle_is_refused_with_its_share_and_where_it_is():
    """The reported case: 97% of 430 points filled in, a handful observed at each end."""
    message = _refusal(_series(430, gaps=range(5, 422)))
    assert message.startswith(
        "The series, 2024-01-01T00:00:00 to 2024-01-18T21:00:00 (430 points), is"
    )
    assert "97.0% imputed (417 of 430 points filled in" in message
    assert (
        "longest run of imputed points (417) is from 2024-01-01T05:00:00 to 2024-01-18T13:00:00"
        in message
    )
    assert "narrow the query's time range" in message


@pytest.mark.parametrize(
    "series",
    [
        _series(missing_values=range(510, 599)),  # NULL values: the timestamps are there
        _series(gaps=range(512, 599)),  # rows missing: the last hour is observed
    ],
    ids=["missing-values", "missing-timestamps"],
)
def test_a_hole_covering_the_test_range_is_refused_though_the_series_passes(series):
    assert series.imputed.mean() < LIMIT
    message = _refusal(series)
    assert message.startswith("The test range (the last test_fraction), ")
    assert "(90 points)" in message


def test_many_missing_values_spread_out_are_refused_though_no_gap_is_long():
    message = _refusal(_series(missing_values=range(1, 600, 3)))
    assert "33.3% imputed (200 of 600 points filled in" in message
    assert "longest run of imputed points (1) is" in message


def test_a_training_range_over_the_limit_is_refused_with_a_clean_test_range():
    series = _series(gaps=range(50, 160))  # 110 of the 510 training points: 21.6%
    assert series.imputed.mean() < LIMIT
    message = _refusal(series)
    assert message.startswith("The training range (before the test range), ")
    assert "21.6% imputed (110 of 510 points" in message


def test_a_cross_validation_block_over_the_limit_is_refused_and_fewer_folds_are_offered():
    series = _series(gaps=range(400, 460))  # 60 points of block 1 [340, 510): 35%
    message = _refusal(series, folds=2)
    assert message.startswith("Cross-validation block 1")
    assert "35.3% imputed" in message and "use fewer cv_folds" in message
    check_imputed_share(series, 510, LIMIT)  # the same series without folds passes


@pytest.mark.parametrize(("limit", "points"), [(0.2, 100), (0.1, 90), (0.3, 10), (0.15, 600)])
def test_a_share_exactly_at_the_limit_is_accepted_and_one_more_point_is_refused(limit, points):
    at_limit = round(limit * points)
    series = _series(points, missing_values=range(1, at_limit + 1))
    check_range(series, "The range", 0, points, limit)
    over = _series(points, missing_values=range(1, at_limit + 2))
    with pytest.raises(InputError, match=rf"\({at_limit + 1} of {points} points filled in"):
        check_range(over, "The range", 0, points, limit)


def test_the_limit_bounds_mean_none_and_anything():
    series = _series(missing_values=[300])
    check_imputed_share(series, 510, 1.0, ())
    check_imputed_share(_series(430, gaps=range(5, 422)), 360, 1.0)
    message = _refusal(series, limit=0.0)
    assert "0.2% imputed (1 of 600 points" in message
