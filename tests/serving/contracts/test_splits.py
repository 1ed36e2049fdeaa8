"""Hash-based train/validation/test and k-fold assignment."""

import collections
import itertools

import pytest

from serving.contracts.errors import InputError
from serving.contracts.splits import (
    SPLITS,
    check_fractions,
    hash_position,
    kfold_assignments,
    required_splits,
    split_for,
    split_ranges,
    stratified_splits,
)


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


def test_hash_position_is_the_sha256_prefix_in_the_unit_interval():
    positions = [hash_position(n) for n in _names(2000)]
    assert all(0 <= p < 1 for p in positions)
    assert len(set(positions)) == 2000
    assert hash_position("") == int("e3b0c44298fc1c14", 16) / 2**64  # sha256 of b""
    assert hash_position("é") != hash_position("e")  # UTF-8 bytes, not a folded form


@pytest.mark.parametrize(("validation", "test"), [(0.2, 0.1), (0.0, 0.3), (0.25, 0.0)])
def test_split_ranges_tile_the_unit_interval_as_split_for_does(validation, test):
    ranges = split_ranges(validation, test)
    bounds = sorted(ranges.values())
    assert bounds[0][0] == 0.0 and bounds[-1][1] == 1.0
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    for name in _names(1000):
        position = hash_position(name)
        (inside,) = [s for s, (low, high) in ranges.items() if low <= position < high]
        assert inside == split_for(name, validation, test)


@pytest.mark.parametrize(
    ("validation", "test", "required"),
    [
        (0.15, 0.15, ("train", "validation", "test")),
        (0.0, 0.2, ("train", "test")),
        (0.2, 0.0, ("train", "validation")),
        (0.0, 0.0, ("train",)),
    ],
)
def test_required_splits_are_those_with_a_share(validation, test, required):
    assert required_splits(validation, test) == required


def _groups(sizes: dict[str, int]) -> dict[str, list[str]]:
    return {g: [f"{g}/item_{i}" for i in range(n)] for g, n in sizes.items()}


def test_stratified_splits_are_split_for_where_hashing_reaches_every_split():
    groups = _groups({"a": 300, "b": 300})
    splits = stratified_splits(groups, 0.2, 0.1)
    names = [n for members in groups.values() for n in members]
    assert splits == {n: split_for(n, 0.2, 0.1) for n in names}


@pytest.mark.parametrize(("validation", "test"), [(0.15, 0.15), (0.0, 0.2), (0.05, 0.05)])
def test_every_group_reaches_every_required_split(validation, test):
    groups = _groups({f"g{i}": 3 for i in range(20)})
    splits = stratified_splits(groups, validation, test)
    required = required_splits(validation, test)
    for members in groups.values():
        reached = collections.Counter(splits[n] for n in members)
        assert set(reached) == set(required), reached
    hashed = {n: split_for(n, validation, test) for ns in groups.values() for n in ns}
    assert splits != hashed  # hashing alone left some group short: the top-up really ran


def test_the_name_nearest_the_empty_splits_range_moves_there():
    # A 4-name group that hashing puts 3 in train, 1 in validation and none in test.
    names = _names(4000)
    group = next(
        g
        for g in (names[i : i + 4] for i in range(0, 4000, 4))
        if sorted(split_for(n, 0.15, 0.05) for n in g) == ["train"] * 3 + ["validation"]
    )
    splits = stratified_splits({"g": group}, 0.15, 0.05)
    # The only validation member cannot be given up; of the train members, the lowest
    # position lies nearest test's range [0, 0.05).
    trains = [n for n in group if split_for(n, 0.15, 0.05) == "train"]
    moved = min(trains, key=hash_position)
    assert splits == {n: "test" if n == moved else split_for(n, 0.15, 0.05) for n in group}


def test_a_group_is_split_the_same_whatever_else_is_there():
    small = _groups({"rare": 3})
    alone = stratified_splits(small, 0.15, 0.15)
    together = stratified_splits({**_groups({"big": 500, "other": 4}), **small}, 0.15, 0.15)
    assert {n: together[n] for n in small["rare"]} == alone
    reordered = stratified_splits({"rare": list(reversed(small["rare"]))}, 0.15, 0.15)
    assert reordered == alone


def test_stratified_splits_refuses_too_small_groups_and_repeated_names():
    with pytest.raises(ValueError, match="'tiny' has 2 names, fewer than the 3 splits"):
        stratified_splits(_groups({"ok": 5, "tiny": 2}), 0.15, 0.15)
    assert stratified_splits(_groups({"tiny": 2}), 0.0, 0.15)  # two splits needed: enough
    with pytest.raises(ValueError, match="given twice"):
        stratified_splits({"a": ["x", "y", "z"], "b": ["x", "v", "w"]}, 0.15, 0.15)


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
