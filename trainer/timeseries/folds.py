"""Time-ordered test split and rolling-origin cross-validation folds for a series.

Shuffled k-fold (serving.contracts.splits) would train on the future and validate on the past, which
flatters a forecaster. Here every split is a cut in time: the test range is the last part of
the series, and each cross-validation fold trains on everything before its validation block
(an expanding window, "rolling origin"), the way the model will be used: fit on the past,
forecast what comes next. Ranges are of target steps (see trainer.timeseries.windowing): a
validation window may read inputs from the training range before it, observed in the past.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from serving.contracts.errors import InputError
from trainer.timeseries.windowing import WindowSpec


@dataclass(frozen=True)
class Fold:
    """One rolling-origin fold: train on targets [0, train_end), validate on the block after."""

    index: int
    train_end: int  # training targets in [0, train_end)
    validation_start: int  # == train_end
    validation_end: int  # validation targets in [validation_start, validation_end)


def held_out_points(points: int, test_fraction: float, spec: WindowSpec) -> int:
    """Size of the test range: the last test_fraction of the points, at least one horizon."""
    return max(math.ceil(points * test_fraction - 1e-9), spec.horizon)


def test_split(points: int, test_fraction: float, spec: WindowSpec) -> int:
    """Index where the test range [start, points) begins.

    The range before it must hold at least one training window (window + horizon points).
    """
    if not 0 < test_fraction < 1:
        raise InputError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}.")
    start = points - held_out_points(points, test_fraction, spec)
    if start < spec.length:
        needed = _shortest_for_test(test_fraction, spec)
        raise InputError(
            f"The series has {points} points; needs at least {needed} (test_fraction "
            f"{test_fraction} of it for testing, at least horizon = {spec.horizon} points, after "
            f"at least window + horizon = {spec.length} points for training): use a longer "
            "series, a shorter window or horizon, or a smaller test_fraction."
        )
    return start


# Its name starts with "test": keep pytest from collecting it in a test module that imports it.
test_split.__test__ = False


def rolling_origin_folds(
    points: int, folds: int, spec: WindowSpec, min_train: int | None = None
) -> list[Fold]:
    """Expanding-window folds over targets [0, points); `folds` == 0 gives none.

    [0, points) is cut into folds + 1 equal blocks (the remainder goes to the first); the last
    `folds` blocks are the validation ranges, in time order, and each fold trains on all the
    points before its block. Each validation block must hold one window's targets (horizon)
    and each training range at least `min_train` points (default 2 * (window + horizon)).
    """
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 0:
        raise InputError(f"folds must be 0 (off) or a whole number >= 1, got {folds!r}.")
    if folds == 0:
        return []
    if min_train is None:
        min_train = 2 * spec.length
    if min_train < spec.length:
        raise InputError(
            f"min_train {min_train} is below one training window: needs at least "
            f"window + horizon = {spec.length}."
        )
    if not _fits(points, folds, spec, min_train):
        largest = next((k for k in range(folds - 1, 0, -1) if _fits(points, k, spec, min_train)), 0)
        block = points // (folds + 1)
        fix = (
            f"at most {largest} fit: lower folds to {largest} or 0 (off)"
            if largest
            else "none fit (0 is the largest number of folds): set folds to 0 or use a longer "
            "series"
        )
        raise InputError(
            f"{folds} rolling-origin folds over {points} points give validation blocks of "
            f"{block} points (each needs at least horizon = {spec.horizon}) and "
            f"{points - folds * block} training points in the first fold (needs at least "
            f"min_train = {min_train}); {fix}."
        )
    block = points // (folds + 1)
    first = points - folds * block
    return [
        Fold(
            index=i,
            train_end=first + i * block,
            validation_start=first + i * block,
            validation_end=first + (i + 1) * block,
        )
        for i in range(folds)
    ]


def _fits(points: int, folds: int, spec: WindowSpec, min_train: int) -> bool:
    block = points // (folds + 1)
    return block >= spec.horizon and points - folds * block >= min_train


def _shortest_for_test(test_fraction: float, spec: WindowSpec) -> int:
    """The fewest points for which test_split leaves a training window before the test range."""
    points = max(spec.length + spec.horizon, math.floor(spec.length / (1 - test_fraction)) - 2)
    while points - held_out_points(points, test_fraction, spec) < spec.length:
        points += 1
    return points
