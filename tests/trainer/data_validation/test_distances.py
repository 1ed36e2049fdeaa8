"""The distances against a reference computation: scipy, and values worked out by hand."""

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon

from trainer.data_validation.distances import (
    histogram_divergence,
    jensen_shannon,
    l_infinity,
    rebin,
)
from trainer.data_validation.feature_stats import numeric_stats


@pytest.mark.parametrize(
    ("p", "q"),
    [
        ([1, 2, 3, 4], [4, 3, 2, 1]),
        ([0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]),
        ([10, 0, 5], [10, 0, 5]),
        ([1, 1, 1, 1, 1], [5, 0, 0, 0, 0]),
    ],
)
def test_jensen_shannon_is_scipys_base_2_distance_squared(p, q):
    expected = jensenshannon(p, q, base=2) ** 2
    assert jensen_shannon(p, q) == pytest.approx(expected, abs=1e-12)


def test_l_infinity_by_hand():
    # p = {a: .5, b: .5}, q = {a: .2, b: .3, c: .5}: the largest gap is c's 0.5
    assert l_infinity({"a": 5, "b": 5}, {"a": 2, "b": 3, "c": 5}) == pytest.approx(0.5)
    assert l_infinity({"a": 1, "b": 3}, {"a": 2, "b": 6}) == pytest.approx(0.0)
    assert l_infinity({"a": 1}, {"b": 1}) == pytest.approx(1.0)


def test_divergence_on_the_baselines_bins_equals_scipy_on_the_counts():
    """New data binned on the baseline's edges: the divergence is scipy's on the two counts."""
    rng = np.random.default_rng(0)
    baseline = numeric_stats(rng.normal(20, 5, 5000))["histogram"]
    edges = np.asarray(baseline["edges"])
    shifted = rng.normal(23, 5, 5000)
    inside = shifted[(shifted >= edges[0]) & (shifted <= edges[-1])]
    # a histogram whose bins are the baseline's, so that rebinning moves nothing
    counts, _ = np.histogram(inside, bins=edges)
    new = {"edges": list(edges), "counts": list(counts)}
    below, above = int((shifted < edges[0]).sum()), int((shifted > edges[-1]).sum())
    new_counts = [0, *counts, 0]
    new_counts[0] += below  # rebin's under- and overflow cells, given by hand
    new_counts[-1] += above
    new["edges"] = [min(shifted.min(), edges[0]), *edges, max(shifted.max(), edges[-1])]
    new["counts"] = [below, *counts, above]
    expected = jensenshannon([0, *baseline["counts"], 0], new_counts, base=2) ** 2
    assert histogram_divergence(baseline, new) == pytest.approx(expected, rel=1e-9)


def test_rebin_spreads_a_bin_uniformly_and_keeps_points_whole():
    edges = np.array([0.0, 1.0, 2.0])
    # [0.5, 1.5] with 10: half in each bin; the point 3.0 is above the range
    histogram = {"edges": [0.5, 1.5, 1.5, 3.0, 3.0], "counts": [10, 0, 0, 4]}
    assert rebin(histogram, edges).tolist() == [0.0, 5.0, 5.0, 4.0]
    # a single-valued baseline bin holds a point at its value, and nothing else
    assert rebin({"edges": [8.0, 8.0], "counts": [3]}, np.array([8.0, 8.0])).tolist() == [0, 3, 0]


def test_the_same_data_is_at_distance_zero_and_disjoint_data_at_one():
    values = numeric_stats([1, 2, 2, 3, 3, 3, 4])["histogram"]
    assert histogram_divergence(values, values) == pytest.approx(0.0)
    far = numeric_stats([100, 101, 102])["histogram"]
    assert histogram_divergence(values, far) == pytest.approx(1.0)
    constant = numeric_stats([8] * 10)["histogram"]
    assert histogram_divergence(constant, constant) == pytest.approx(0.0)
    assert histogram_divergence(constant, numeric_stats([16] * 10)["histogram"]) == 1.0
