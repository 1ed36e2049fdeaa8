"""Time-ordered test split and rolling-origin folds: no fold trains on its future."""

import itertools
import re

import pytest

from serving.contracts.errors import InputError
from trainer.timeseries.folds import Fold, rolling_origin_folds, test_split
from trainer.timeseries.windowing import WindowSpec, window_starts


def test_folds_by_hand():
    folds = rolling_origin_folds(100, 4, WindowSpec(5))
    assert folds == [
        Fold(index=0, train_end=20, validation_start=20, validation_end=40),
        Fold(index=1, train_end=40, validation_start=40, validation_end=60),
        Fold(index=2, train_end=60, validation_start=60, validation_end=80),
        Fold(index=3, train_end=80, validation_start=80, validation_end=100),
    ]


def test_remainder_goes_to_the_first_training_range():
    folds = rolling_origin_folds(103, 4, WindowSpec(5))
    assert [f.train_end for f in folds] == [23, 43, 63, 83]
    assert folds[-1].validation_end == 103


@pytest.mark.parametrize(
    ("points", "folds", "spec"),
    [
        (points, folds, spec)
        for points, folds, spec in itertools.product(
            [60, 257, 1000, 8760],
            [1, 2, 3, 5, 10],
            [WindowSpec(5), WindowSpec(24, horizon=6, stride=3), WindowSpec(48, horizon=24)],
        )
        if points // (folds + 1) >= 2 * spec.length
    ],
)
def test_folds_never_see_the_future(points, folds, spec):
    result = rolling_origin_folds(points, folds, spec)
    assert [f.index for f in result] == list(range(folds))
    assert result[-1].validation_end == points
    for fold in result:
        assert fold.validation_start == fold.train_end
        assert fold.validation_end - fold.validation_start >= spec.horizon
        assert fold.train_end >= 2 * spec.length
        train = window_starts(spec, 0, fold.train_end)
        validation = window_starts(spec, fold.validation_start, fold.validation_end)
        assert len(train) and len(validation)
        # The last training window's targets end before the validation block starts.
        assert train[-1] + spec.length <= fold.validation_start
        assert validation[0] + spec.window >= fold.validation_start
    for earlier, later in itertools.pairwise(result):
        assert later.validation_start == earlier.validation_end  # consecutive
        assert later.train_end > earlier.train_end  # expanding
    sizes = {f.validation_end - f.validation_start for f in result}
    assert len(sizes) == 1  # equal blocks


def test_no_folds():
    assert rolling_origin_folds(10, 0, WindowSpec(48)) == []


def test_too_many_folds_names_the_largest_that_fits():
    spec = WindowSpec(10)  # min_train = 2 * 11 = 22
    with pytest.raises(InputError, match=r"5 rolling-origin folds over 100 points.*at most 3 fit"):
        rolling_origin_folds(100, 5, spec)
    assert len(rolling_origin_folds(100, 3, spec)) == 3
    with pytest.raises(InputError, match=r"at most 3 fit"):
        rolling_origin_folds(100, 4, spec)


def test_no_fold_fits_a_short_series():
    with pytest.raises(InputError, match=r"none fit \(0 is the largest number of folds\)"):
        rolling_origin_folds(40, 1, WindowSpec(24))


def test_min_train():
    spec = WindowSpec(10, horizon=2)
    assert rolling_origin_folds(100, 4, spec, min_train=12)[0].train_end == 20
    with pytest.raises(InputError, match=r"min_train = 30"):
        rolling_origin_folds(100, 4, spec, min_train=30)
    with pytest.raises(InputError, match=r"min_train 11 .* window \+ horizon = 12"):
        rolling_origin_folds(100, 4, spec, min_train=11)
    with pytest.raises(InputError, match=r"folds must be 0 \(off\)"):
        rolling_origin_folds(100, -1, spec)


def test_test_split_is_the_last_fraction():
    assert test_split(100, 0.2, WindowSpec(10)) == 80
    assert test_split(1000, 0.15, WindowSpec(48, horizon=24)) == 850


def test_test_split_holds_at_least_one_horizon_and_a_window():
    spec = WindowSpec(48, horizon=24)
    start = test_split(200, 0.01, spec)
    assert start == 176
    assert len(window_starts(spec, start, 200)) == 1


def test_test_split_too_short_names_the_shortest_length():
    spec = WindowSpec(48, horizon=24)
    with pytest.raises(InputError, match=r"has 80 points; needs at least \d+") as raised:
        test_split(80, 0.2, spec)
    needed = int(re.search(r"needs at least (\d+)", str(raised.value)).group(1))
    assert needed > 80
    start = test_split(needed, 0.2, spec)
    assert start >= spec.length and len(window_starts(spec, start, needed)) >= 1
    with pytest.raises(InputError):
        test_split(needed - 1, 0.2, spec)


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5])
def test_test_split_refuses_fractions_outside_0_1(fraction):
    with pytest.raises(InputError, match=r"test_fraction must be between 0 and 1"):
        test_split(1000, fraction, WindowSpec(4))
