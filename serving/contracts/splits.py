"""Deterministic train/validation/test assignment by hash of the file name.

Hashing the name (not the position in a listing) keeps every existing file in
its split when new files are added, so test sets stay comparable across runs.
"""

from __future__ import annotations

import hashlib

from serving.contracts.errors import InputError

SPLITS = ("train", "validation", "test")


def split_for(name: str, validation_fraction: float, test_fraction: float) -> str:
    """Return 'train', 'validation' or 'test' for a file name, stably."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64
    if position < test_fraction:
        return "test"
    if position < test_fraction + validation_fraction:
        return "validation"
    return "train"


def check_fractions(validation_fraction: float, test_fraction: float) -> None:
    """Refuse fractions that leave no room for a training split."""
    for label, value in (
        ("validation_fraction", validation_fraction),
        ("test_fraction", test_fraction),
    ):
        if not 0 < value < 1:
            raise InputError(f"{label} must be between 0 and 1 (exclusive), got {value}.")
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
