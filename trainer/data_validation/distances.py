"""The distribution distances of Vertex AI Model Monitoring, on the statistics of two datasets.

- Categorical features: the L-infinity distance, the largest absolute difference
  between the two datasets' value frequencies (0: the same; 1: disjoint).
- Numerical features: the Jensen-Shannon divergence with base-2 logarithms (0: the
  same; 1: disjoint) between the two binned distributions.

Numerical values are binned as Vertex AI and TFDV bin them, on the baseline's
buckets: the new data's mass in each of the baseline's bins follows from its
statistics (`new_masses`), with one more bin below the baseline's minimum and one
above its maximum, so that values outside the baseline's range count as fully
different.
"""

from __future__ import annotations

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
    """Jensen-Shannon divergence of new data from a baseline histogram, on the baseline's bins.

    `baseline`: {"edges", "counts"}; `new`: the new data's numeric statistics
    (`feature_stats.numeric_stats`), whose mass in each bin is `new_masses`.
    """
    edges = np.asarray(baseline["edges"], dtype=float)
    p = np.concatenate([[0.0], np.asarray(baseline["counts"], dtype=float), [0.0]])
    return jensen_shannon(p, new_masses(new, edges))


def new_masses(stats: Mapping, edges: np.ndarray) -> np.ndarray:
    """The new data's share in each cell of `edges` (underflow, the bins, overflow), as exact
    as its statistics allow: from its distinct values when it has few, from its own counts
    when its histogram has these very bins, else from its percentiles."""
    if stats.get("values"):
        values, counts = zip(*stats["values"], strict=True)
        cells = [_cell_of(v, edges) for v in values]
        return np.bincount(cells, weights=counts, minlength=len(edges) + 1)
    histogram = stats["histogram"]
    if np.array_equal(np.asarray(histogram["edges"], dtype=float), edges):
        return np.array([0.0, *histogram["counts"], 0.0])
    return binned_masses(stats["percentiles"], edges)


def _cell_of(value: float, edges: np.ndarray) -> int:
    """The cell holding `value`: 0 below edges[0], len(edges) above edges[-1], else its bin
    (the last bin closed on the right)."""
    if value < edges[0]:
        return 0
    if value > edges[-1]:
        return len(edges)
    if value == edges[-1]:
        return len(edges) - 1
    return int(np.searchsorted(edges, value, side="right"))


def binned_masses(percentiles: Sequence[float], edges: np.ndarray) -> np.ndarray:
    """The share of a distribution in each of `edges`' bins, with an underflow cell first and
    an overflow cell last; the last bin is closed on the right, and two equal edges make a
    bin of one value.

    The distribution is what its percentiles describe: 1% of the data between each two
    consecutive ones, spread evenly, or, where the two are equal, all at that value. So a
    value repeated in many rows (a zero share of non-ASCII characters, one image size)
    stays a point, and its mass lands in the bin that holds it.
    """
    q = np.asarray(percentiles, dtype=float)
    low, high = q[:-1], q[1:]
    width = high - low
    share = 1.0 / len(low)

    def below(x: float, inclusive: bool) -> float:
        """P(X <= x) if inclusive, else P(X < x)."""
        spread = np.clip((x - low) / np.where(width > 0, width, 1.0), 0.0, 1.0)
        point = (low <= x) if inclusive else (low < x)
        return float(share * np.where(width > 0, spread, point).sum())

    cuts = [below(e, inclusive=False) for e in edges[:-1]] + [below(edges[-1], inclusive=True)]
    return np.clip(np.diff([0.0, *cuts, 1.0]), 0.0, None)


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    mask = p > 0
    return float(np.sum(p[mask] * np.log2(p[mask] / q[mask])))


def _normalized(counts: Mapping[str, float]) -> dict[str, float]:
    total = float(sum(counts.values()))
    if total <= 0:
        return {}
    return {value: count / total for value, count in counts.items()}
