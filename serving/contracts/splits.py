"""Deterministic train/validation/test assignment by hash of a name.

Hashing the name (a file's path, an example's text), not its position in a
listing, keeps everything already there in its split when new names are added,
so test sets stay comparable across runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from serving.contracts.errors import InputError
from serving.contracts.limits import check_values, fraction

SPLITS = ("train", "validation", "test")


def hash_position(name: str) -> float:
    """Where `name` falls in [0, 1): the first 8 bytes of the sha256 of its UTF-8."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_ranges(
    validation_fraction: float, test_fraction: float
) -> dict[str, tuple[float, float]]:
    """Each split's half-open range of hash positions: test first, then validation, train."""
    return {
        "train": (test_fraction + validation_fraction, 1.0),
        "validation": (test_fraction, test_fraction + validation_fraction),
        "test": (0.0, test_fraction),
    }


def split_for(name: str, validation_fraction: float, test_fraction: float) -> str:
    """Return 'train', 'validation' or 'test' for a name, stably."""
    position = hash_position(name)
    if position < test_fraction:
        return "test"
    if position < test_fraction + validation_fraction:
        return "validation"
    return "train"


def required_splits(validation_fraction: float, test_fraction: float) -> tuple[str, ...]:
    """The splits given a share of the hash range, in SPLITS order (a 0 fraction has none)."""
    ranges = split_ranges(validation_fraction, test_fraction)
    return tuple(s for s in SPLITS if ranges[s][1] > ranges[s][0])


def stratified_splits(
    names_by_group: Mapping[str, Sequence[str]],
    validation_fraction: float,
    test_fraction: float,
) -> dict[str, str]:
    """The split of each name: `split_for`, then topped up so each group is in every split.

    Hashing alone can leave a small group (a class) without a member in a required split;
    then the group's member whose hash position lies nearest that split's range, taken
    from a split that keeps at least one, moves there. Only the names of such groups can
    move, and which one does depends on the group's names alone. Names must be distinct,
    and each group needs at least as many as there are required splits.
    """
    ranges = split_ranges(validation_fraction, test_fraction)
    required = required_splits(validation_fraction, test_fraction)
    splits: dict[str, str] = {}
    for group in sorted(names_by_group):
        names = names_by_group[group]
        if len(names) < len(required):
            raise ValueError(
                f"Group {group!r} has {len(names)} names, fewer than the "
                f"{len(required)} splits it must reach ({', '.join(required)})."
            )
        members: dict[str, list[str]] = {s: [] for s in SPLITS}
        for name in names:
            members[split_for(name, validation_fraction, test_fraction)].append(name)
        for split in required:
            if members[split]:
                continue
            donors = [n for s in SPLITS if len(members[s]) > 1 for n in members[s]]
            nearest = _nearest(donors, *ranges[split])
            donor_split = next(s for s in SPLITS if nearest in members[s])
            members[donor_split].remove(nearest)
            members[split].append(nearest)
        for split, group_names in members.items():
            for name in group_names:
                if name in splits:
                    raise ValueError(f"Name {name!r} is given twice: names must be distinct.")
                splits[name] = split
    return splits


def _nearest(names: list[str], low: float, high: float) -> str:
    """The name whose hash position lies nearest [low, high); ties go to the lower one."""

    def key(name: str) -> tuple[float, float, str]:
        position = hash_position(name)
        return (max(low - position, position - high, 0.0), position, name)

    return min(names, key=key)


# A split's share, when every split must hold examples.
SPLIT_FRACTION = fraction(low_open=True, high_open=True)


def check_fractions(validation_fraction: float, test_fraction: float) -> None:
    """Refuse fractions that leave a split empty, or under 10% for training."""
    check_values(
        {"validation_fraction": validation_fraction, "test_fraction": test_fraction},
        {"validation_fraction": SPLIT_FRACTION, "test_fraction": SPLIT_FRACTION},
    )
    if validation_fraction + test_fraction >= 0.9:
        raise InputError(
            f"validation_fraction + test_fraction = {validation_fraction + test_fraction:.2f} "
            "leaves under 10% for training: lower them."
        )


def kfold_assignments(names: list[str], folds: int) -> list[int]:
    """Fold index (0..folds-1) for each name, by hash, for k-fold cross-validation."""
    if folds < 2:
        raise InputError(f"cv_folds must be 0 (off) or at least 2, got {folds}.")
    return [
        int.from_bytes(hashlib.sha256(f"fold:{n}".encode()).digest()[:8], "big") % folds
        for n in names
    ]
