"""The statistics of one feature's values: numerical, categorical or timestamp.

Each is a plain dict (JSON), the same whether the values came from a training
dataset or from served traffic, so that the two compare:

- numerical: count (present values), missing (None or NaN), non_finite (inf),
  mean, std, min, max, quantiles, a histogram of HISTOGRAM_BINS equal-width bins
  between min and max ({"edges", "counts"}; one bin when min == max or the span cannot
  be split),
  and what the distances count on another dataset's bins: the distinct values with their
  counts (up to MAX_DISTINCT_NUMBERS of them) and the 101 percentiles (0th to 100th);
- categorical: count, missing (None or ""), unique, and the frequencies of the
  MAX_VALUES most frequent values (`other` counts the rest);
- timestamp: count, missing, min and max (ISO 8601).
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Sequence

import numpy as np

NUMERIC, CATEGORICAL, TIMESTAMP = "numeric", "categorical", "timestamp"
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
HISTOGRAM_BINS = 20
MAX_VALUES = 1000
MAX_DISTINCT_NUMBERS = 100


def numeric_stats(values: Iterable[float | None]) -> dict:
    """Statistics of numbers; None and NaN are missing, infinities counted apart."""
    arr = np.array([np.nan if v is None else v for v in values], dtype=float)
    missing = int(np.isnan(arr).sum())
    non_finite = int(np.isinf(arr).sum())
    finite = arr[np.isfinite(arr)]
    stats = {"count": int(finite.size), "missing": missing, "non_finite": non_finite}
    if finite.size == 0:
        return {**stats, "histogram": {"edges": [], "counts": []}}
    low, high = float(finite.min()), float(finite.max())
    distinct, counts = np.unique(finite, return_counts=True)
    histogram = _histogram(finite, low, high)
    return {
        **stats,
        "mean": float(finite.mean()),
        "std": float(finite.std()),
        "min": low,
        "max": high,
        "quantiles": {
            f"{q:g}": float(v)
            for q, v in zip(QUANTILES, np.quantile(finite, QUANTILES), strict=True)
        },
        "histogram": histogram,
        # What the distances count on a baseline's bins: the distinct values, when few (image
        # sizes, word counts), else the 0th to 100th percentiles.
        "values": [[float(v), int(n)] for v, n in zip(distinct, counts, strict=True)]
        if len(distinct) <= MAX_DISTINCT_NUMBERS
        else [],
        "percentiles": [float(v) for v in np.quantile(finite, np.linspace(0, 1, 101))],
    }


def _histogram(finite: np.ndarray, low: float, high: float) -> dict:
    """HISTOGRAM_BINS equal-width bins from low to high; one bin when they cannot be split
    (a single value, a span too small for distinct float edges, or one that overflows)."""
    with np.errstate(over="ignore", invalid="ignore"):
        edges = np.linspace(low, high, HISTOGRAM_BINS + 1)
    if low == high or not np.isfinite(edges).all() or (np.diff(edges) <= 0).any():
        return {"edges": [low, high], "counts": [int(finite.size)]}
    binned, edges = np.histogram(finite, bins=edges)
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in binned]}


def categorical_stats(values: Iterable[object]) -> dict:
    """Statistics of values taken as text; None and "" are missing."""
    counter: collections.Counter = collections.Counter()
    missing = 0
    for value in values:
        if value is None or value == "":
            missing += 1
        else:
            counter[str(value)] += 1
    top = dict(sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:MAX_VALUES])
    return {
        "count": sum(counter.values()),
        "missing": missing,
        "unique": len(counter),
        "frequencies": top,
        "other": sum(counter.values()) - sum(top.values()),
    }


def timestamp_stats(values: Sequence) -> dict:
    """Count, missing, min and max of datetimes (numpy datetime64 or pandas Timestamps)."""
    arr = np.asarray(values, dtype="datetime64[us]")
    present = arr[~np.isnat(arr)]
    stats = {"count": int(present.size), "missing": int(arr.size - present.size)}
    if present.size:
        stats.update(min=str(present.min()), max=str(present.max()))
    return stats


def feature(kind: str, role: str, stats: dict, description: str = "") -> dict:
    """One feature's entry in a statistics document.

    `role`: "label" (the class of an example: its class set is checked), "column"
    (a source column: type, presence, missing rate and values are checked), or
    "derived" (a property computed from an input, such as an image's width: its
    distribution is watched for drift, its values are not constrained).
    """
    return {"type": kind, "role": role, "description": description, "stats": stats}


def values_distribution(entry: dict) -> dict | None:
    """What the distances compare: the numeric statistics, or the frequencies (categorical)."""
    stats = entry["stats"]
    if entry["type"] == NUMERIC and stats["count"]:
        return stats
    if entry["type"] == CATEGORICAL and stats["count"]:
        return {**stats["frequencies"], **({"<other>": stats["other"]} if stats["other"] else {})}
    return None
