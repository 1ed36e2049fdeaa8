"""Hash-based train/validation/test and k-fold assignment."""

import collections

import pytest

from serving.contracts.errors import InputError
from serving.contracts.splits import SPLITS, check_fractions, kfold_assignments, split_for


def _names(n, start=0):
    return [f"class_{i % 3}/img_{i:05d}.png" for i in range(start, start + n)]


def test_split_for_is_deterministic_and_one_of_the_splits():
    names = _names(200)
    first = [split_for(n, 0.2, 0.1) for n in names]
    assert first == [split_for(n, 0.2, 0.1) for n in names]
    assert set(first) == set(SPLITS)


def test_adding_names_never_moves_existing_ones():
    old = _names(1000)
    before = {n: split_for(n, 0.15, 0.15) for n in old}
    # The split of a name depends on the name alone, not on what else is in the listing.
    everything = _names(300, start=1000) + list(reversed(old))
    after = {n: split_for(n, 0.15, 0.15) for n in everything}
    assert {n: after[n] for n in old} == before


def test_fractions_are_roughly_respected():
    counts = collections.Counter(split_for(n, 0.2, 0.1) for n in _names(5000))
    assert sum(counts.values()) == 5000
    assert counts["validation"] / 5000 == pytest.approx(0.2, abs=0.02)
    assert counts["test"] / 5000 == pytest.approx(0.1, abs=0.02)
    assert counts["train"] / 5000 == pytest.approx(0.7, abs=0.02)


def test_larger_test_fraction_only_moves_names_into_test():
    # Raising test_fraction must not reshuffle names between train and validation arbitrarily:
    # every name that was in test stays in test.
    names = _names(2000)
    small = {n: split_for(n, 0.1, 0.1) for n in names}
    large = {n: split_for(n, 0.1, 0.2) for n in names}
    assert all(large[n] == "test" for n, s in small.items() if s == "test")
    assert sum(s == "test" for s in large.values()) > sum(s == "test" for s in small.values())


def test_check_fractions_accepts_sane_values():
    check_fractions(0.15, 0.15)
    check_fractions(0.4, 0.45)


@pytest.mark.parametrize(
    ("validation", "test", "match"),
    [
        (0.0, 0.1, "validation_fraction"),
        (0.1, 0.0, "test_fraction"),
        (1.0, 0.1, "validation_fraction"),
        (0.1, 1.5, "test_fraction"),
        (-0.1, 0.1, "validation_fraction"),
        (0.5, 0.4, "under 10% for training"),
        (0.6, 0.35, "under 10% for training"),
    ],
)
def test_check_fractions_refuses_bad_values(validation, test, match):
    with pytest.raises(InputError, match=match):
        check_fractions(validation, test)


def test_kfold_assignments_cover_all_folds_deterministically():
    names = _names(500)
    folds = kfold_assignments(names, 5)
    assert len(folds) == len(names)
    assert set(folds) == {0, 1, 2, 3, 4}
    assert folds == kfold_assignments(names, 5)
    # Per name, not per position: a reversed listing gives the reversed assignment.
    assert kfold_assignments(list(reversed(names)), 5) == list(reversed(folds))
    sizes = collections.Counter(folds)
    assert min(sizes.values()) > 500 / 5 * 0.7


@pytest.mark.parametrize("folds", [1, 0, -2])
def test_kfold_assignments_refuses_fewer_than_two_folds(folds):
    with pytest.raises(InputError, match="at least 2"):
        kfold_assignments(_names(10), folds)
