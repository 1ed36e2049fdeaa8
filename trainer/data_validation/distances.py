"""The distribution distances of Vertex AI Model Monitoring, on the statistics of two datasets.

- Categorical features: the L-infinity distance, the largest absolute difference
  between the two datasets' value frequencies (0: the same; 1: disjoint).
- Numerical features: the Jensen-Shannon divergence with base-2 logarithms (0: the
  same; 1: disjoint) between the two binned distributions.

Numerical values are binned as Vertex AI and TFDV bin them, on the baseline's
buckets: the new data's histogram is spread over the baseline's bins (its mass
uniform within each of its own bins, a single-valued bin as a point), with one more
bin below the baseline's minimum and one above its maximum, so that values outside
the baseline's range count as fully different.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np


def l_infinity(baseline: Mapping[str, float], new: Mapping[str, float]) -> float:
    """max |p(v) - q(v)| over every value of either, from counts or frequencies."""
    p, q = _normalized(baseline), _normalized(new)
    if not p or not q:
        return 0.0 if p == q else 1.0
    return max(abs(p.get(value, 0.0) - q.get(value, 0.0)) for value in p.keys() | q.keys())


def jensen_shannon(p: Sequence[float], q: Sequence[float]) -> float:
    """The Jensen-Shannon divergence (base 2, in [0, 1]) of two distributions over the same bins."""
    p_arr, q_arr = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    if p_arr.shape != q_arr.shape:
        raise ValueError(f"distributions over {p_arr.size} and {q_arr.size} bins")
    if p_arr.sum() <= 0 or q_arr.sum() <= 0:
        return 0.0 if p_arr.sum() == q_arr.sum() else 1.0
    p_arr, q_arr = p_arr / p_arr.sum(), q_arr / q_arr.sum()
    m = (p_arr + q_arr) / 2
    divergence = (_kl(p_arr, m) + _kl(q_arr, m)) / 2
    return float(min(max(divergence, 0.0), 1.0))


def histogram_divergence(baseline: Mapping, new: Mapping) -> float:
    """Jensen-Shannon divergence of two histograms ({"edges", "counts"}) on the baseline's bins."""
    edges = np.asarray(baseline["edges"], dtype=float)
    p = np.concatenate([[0.0], np.asarray(baseline["counts"], dtype=float), [0.0]])
    q = rebin(new, edges)
    return jensen_shannon(p, q)


def rebin(histogram: Mapping, edges: np.ndarray) -> np.ndarray:
    """`histogram`'s counts on `edges`' bins, with an underflow bin first and an overflow bin last.

    `edges` are a baseline's bin edges (its last bin closed on the right; two equal
    edges make one single-valued bin). Each of the histogram's own bins spreads its
    count uniformly over its width; a single-valued bin is a point.
    """
    out = np.zeros(len(edges) + 1)
    source_edges = np.asarray(histogram["edges"], dtype=float)
    for (low, high), count in zip(
        itertools.pairwise(source_edges), histogram["counts"], strict=True
    ):
        if count <= 0:
            continue
        if high <= low:
            out[_cell_of_point(low, edges)] += count
        else:
            out += count * _overlaps(low, high, edges)
    return out


def _cell_of_point(value: float, edges: np.ndarray) -> int:
    """The cell holding `value`: 0 below edges[0], len(edges) above edges[-1], else its bin."""
    if value < edges[0]:
        return 0
    if value > edges[-1]:
        return len(edges)
    if value == edges[-1]:
        return len(edges) - 1  # the last bin is closed on the right
    return int(np.searchsorted(edges, value, side="right"))


def _overlaps(low: float, high: float, edges: np.ndarray) -> np.ndarray:
    """The share of [low, high] in each cell (underflow, the bins, overflow)."""
    bounds = np.concatenate([[-np.inf], edges, [np.inf]])
    starts = np.maximum(bounds[:-1], low)
    ends = np.minimum(bounds[1:], high)
    return np.clip(ends - starts, 0.0, None) / (high - low)


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    mask = p > 0
    return float(np.sum(p[mask] * np.log2(p[mask] / q[mask])))


def _normalized(counts: Mapping[str, float]) -> dict[str, float]:
    total = float(sum(counts.values()))
    if total <= 0:
        return {}
    return {value: count / total for value, count in counts.items()}
