"""Refuse a series, or a range of it, that is more imputed than observed data can support.

Imputation fills a gap with a guess (a straight line, or the last value repeated). A few
guesses among many measurements are harmless; a series that is mostly guesses teaches the
model the imputation, and a test range that is mostly guesses scores a handful of real
values while looking like a full test. So before any training, each range the case study
uses (the whole series, the test range, the training range and each cross-validation
block) may be at most `max_imputed_fraction` imputed.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from serving.contracts.errors import InputError
from trainer.timeseries.folds import Fold
from trainer.timeseries.series import Series

SETTING = "max_imputed_fraction"


def check_imputed_share(
    series: Series, test_start: int, limit: float, folds: Iterable[Fold] = ()
) -> None:
    """Refuse, by name, the first range whose share of imputed points exceeds `limit`.

    The whole series comes first (the number a user recognises), then the test range
    [test_start, end), the training range [0, test_start) and the validation blocks.
    """
    points = len(series)
    ranges = [
        ("The series", 0, points, ""),
        ("The test range (the last test_fraction)", test_start, points, ""),
        ("The training range (before the test range)", 0, test_start, ""),
    ]
    ranges += [
        (
            f"Cross-validation block {fold.index}",
            fold.validation_start,
            fold.validation_end,
            "use fewer cv_folds (longer blocks; 0 for none), ",
        )
        for fold in folds
    ]
    for name, start, end, also in ranges:
        check_range(series, name, start, end, limit, also)


def check_range(
    series: Series, name: str, start: int, end: int, limit: float, also: str = ""
) -> None:
    """Refuse series[start:end] when more than `limit` of its points were imputed.

    A share exactly at the limit is accepted. The message names the share, the limit, the
    setting, the longest gap (usually the thing to fix) and what to do; `also` is one more
    remedy that applies to this range ("..., ").
    """
    imputed = series.imputed[start:end]
    count = int(imputed.sum())
    points = len(imputed)
    if points == 0 or count / points <= limit:
        return
    gap_start, gap_end = _longest_gap(imputed)
    raise InputError(
        f"{name}, {_time(series, start)} to {_time(series, end - 1)} ({points} points), is "
        f"{count / points:.1%} imputed ({count} of {points} points filled in, not observed), "
        f"over the limit {SETTING} = {limit:g}; its longest run of imputed points "
        f"({gap_end - gap_start}) is from {_time(series, start + gap_start)} to "
        f"{_time(series, start + gap_end - 1)}. "
        "Fill the gaps in the source, narrow the query's time range to where the series was "
        f"observed, {also}or raise {SETTING} if the imputed values are good enough."
    )


def _longest_gap(imputed: np.ndarray) -> tuple[int, int]:
    """[start, end) of the longest run of True in `imputed`, which holds one at least."""
    flags = np.concatenate([[False], np.asarray(imputed, dtype=bool), [False]])
    edges = np.flatnonzero(np.diff(flags.astype(np.int8)))
    starts, ends = edges[0::2], edges[1::2]
    longest = int(np.argmax(ends - starts))
    return int(starts[longest]), int(ends[longest])


def _time(series: Series, index: int) -> str:
    return pd.Timestamp(series.timestamps[index]).isoformat()
