"""The distances against a reference computation: scipy, and values worked out by hand."""

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon

from trainer.data_validation.distances import (
    binned_masses,
    histogram_divergence,
    jensen_shannon,
    l_infinity,
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


def test_divergence_on_the_baselines_bins_is_scipys_on_the_new_datas_counts():
    """Reference: the new data's exact counts on the baseline's bins (plus under- and
    overflow), through scipy. From percentiles, the masses are within a percent or so."""
    rng = np.random.default_rng(0)
    baseline = numeric_stats(rng.normal(20, 5, 20_000))["histogram"]
    edges = np.asarray(baseline["edges"])
    for shift in (0.0, 1.0, 3.0, 10.0):
        new = rng.normal(20 + shift, 5, 20_000)
        inside, _ = np.histogram(new[(new >= edges[0]) & (new <= edges[-1])], bins=edges)
        counts = [(new < edges[0]).sum(), *inside, (new > edges[-1]).sum()]
        expected = jensenshannon([0, *baseline["counts"], 0], counts, base=2) ** 2
        found = histogram_divergence(baseline, numeric_stats(new))
        # the percentiles' 1% steps leave a floor of about 0.006 under distances near 0
        assert found == pytest.approx(expected, rel=0.2, abs=0.008), shift


def test_a_span_too_small_or_too_large_to_split_is_one_bin():
    for values in ([1e16, 1e16 + 2], [0.0, 5e-324], [-1e308, 1e308]):
        histogram = numeric_stats(values)["histogram"]
        assert histogram == {"edges": [min(values), max(values)], "counts": [2]}, values


def test_binned_masses_by_hand():
    edges = np.array([0.0, 1.0, 2.0])
    # 1% between each two percentiles: half evenly over 0..1, 1% over 1..5, the rest at 5
    percentiles = [*np.linspace(0, 1, 51), *[5.0] * 50]
    assert binned_masses(percentiles, edges) == pytest.approx([0.0, 0.5, 0.0025, 0.4975])
    # a single-valued baseline bin: a value repeated in most rows lands in it whole
    point = np.array([0.0, 0.0])
    assert binned_masses([0.0] * 84 + [0.4] * 17, point) == pytest.approx([0, 0.83, 0.17])
    # the last bin is closed: the maximum is inside
    assert binned_masses([2.0] * 101, edges) == pytest.approx([0, 0, 1, 0])


def test_the_same_data_is_at_distance_zero_and_disjoint_data_at_one():
    def divergence(old, new):
        return histogram_divergence(numeric_stats(old)["histogram"], numeric_stats(new))

    assert divergence([1, 2, 2, 3, 3, 3, 4], [1, 2, 2, 3, 3, 3, 4]) == 0.0
    continuous = np.random.default_rng(1).normal(0, 1, 1000)
    assert divergence(continuous, continuous) == 0.0  # the same bins: the counts as they are
    assert divergence(continuous, continuous[::2]) < 0.02
    assert divergence([1, 2, 3], [100, 101, 102]) == pytest.approx(1.0)
    assert divergence([8] * 10, [8] * 10) == pytest.approx(0.0)
    assert divergence([8] * 10, [16] * 10) == pytest.approx(1.0)
    # mostly the constant value, a few others: a small distance, not a total one
    assert 0.05 < divergence([0] * 100, [0] * 300 + [0.4] * 60) < 0.2
    many = np.random.default_rng(2).uniform(0, 1, 1000)  # percentiles, not values
    assert 0.05 < divergence([0] * 100, [0] * 3000 + list(many)) < 0.2
