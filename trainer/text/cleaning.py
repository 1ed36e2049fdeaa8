"""Turn the raw (text, label) values a reader found into clean, distinct examples.

Values are coerced to strings (JSON numbers and booleans become labels too, a
whole number in one form whether written 1, 1.0 or "1.0"),
stripped and truncated to `max_chars`; rows that cannot become an example are
counted under one of `DROP_REASONS`, and a text seen before (after truncation)
is dropped as a duplicate, the first occurrence kept.
"""

from __future__ import annotations

import collections
import re
from dataclasses import dataclass
from typing import Any

MISSING_TEXT = "missing text"
EMPTY_TEXT = "empty text"
MISSING_LABEL = "missing label"
INVALID_UTF8 = "invalid UTF-8"
MALFORMED = "malformed line"
DUPLICATE = "duplicate text"
DROP_REASONS = (MISSING_TEXT, EMPTY_TEXT, MISSING_LABEL, INVALID_UTF8, MALFORMED, DUPLICATE)

# A whole number written as a decimal ("1.0", "-2.00"): the same class as "1", "-2".
_WHOLE_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)\.0+")

# Lone surrogates: \udXXX escapes in JSON, which cannot be encoded as UTF-8. (A file
# that is not UTF-8 is refused whole by `trainer.text.encodings`, never read in part.)
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Example:
    """One usable labelled text."""

    text: str
    label: str


def has_invalid_utf8(value: str) -> bool:
    """Whether `value` holds characters that cannot be written as UTF-8 (lone surrogates)."""
    return _SURROGATE.search(value) is not None


def as_string(value: Any) -> str | None:
    """A JSON scalar as a string; None for null; '' never means missing here.

    Raises TypeError for a list or object, which no text or label can be.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise TypeError(type(value).__name__)


def as_label(value: Any) -> str | None:
    """A label as a string, numbers in one form: JSON 1 and 1.0, and text "1.0", are "1".

    A class written once as 1 and once as 1.0 (a JSON number, or a CSV column a
    tool wrote as floats) is one class; other text is kept as it is ("01" stays).
    """
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    label = as_string(value)
    if label is not None and _WHOLE_DECIMAL.fullmatch(label.strip()):
        return str(int(float(label)))
    return label


def clean_rows(
    rows: list[tuple[Any, Any]], max_chars: int, dropped: collections.Counter
) -> tuple[list[Example], int]:
    """(examples in row order, how many were truncated); each dropped row counted by reason."""
    examples, seen, truncated = [], set(), 0
    for raw_text, raw_label in rows:
        try:
            text, label = as_string(raw_text), as_label(raw_label)
        except TypeError:  # a JSON list or object where a string belongs
            dropped[MALFORMED] += 1
            continue
        if text is None:
            dropped[MISSING_TEXT] += 1
            continue
        if has_invalid_utf8(text) or (label and has_invalid_utf8(label)):
            dropped[INVALID_UTF8] += 1
            continue
        text = text.strip()
        if not text:
            dropped[EMPTY_TEXT] += 1
            continue
        label = (label or "").strip()
        if not label:
            dropped[MISSING_LABEL] += 1
            continue
        was_long = len(text) > max_chars
        if was_long:
            text = text[:max_chars].rstrip()
        if text in seen:
            dropped[DUPLICATE] += 1
            continue
        seen.add(text)
        truncated += was_long
        examples.append(Example(text, label))
    return examples, truncated


def group_by_label(examples: list[Example]) -> dict[str, list[Example]]:
    """The examples of each label, in their order."""
    by_class: dict[str, list[Example]] = collections.defaultdict(list)
    for example in examples:
        by_class[example.label].append(example)
    return dict(by_class)
