"""Turning raw (text, label) values into clean, distinct examples, each drop counted."""

from __future__ import annotations

import collections

import pytest

from serving.contracts.splits import SPLITS
from tests.trainer.text.text_sources import write_jsonl
from trainer.text.cleaning import (
    DUPLICATE,
    EMPTY_TEXT,
    INVALID_UTF8,
    MALFORMED,
    MISSING_LABEL,
    MISSING_TEXT,
    Example,
    as_label,
    as_string,
    clean_rows,
    group_by_label,
)
from trainer.text.ingest import ingest_text_file, read_text_split


def _clean(rows, max_chars=2000):
    counter: collections.Counter = collections.Counter()
    examples, truncated = clean_rows(rows, max_chars, counter)
    return examples, truncated, counter


def test_each_unusable_row_is_counted_under_its_reason():
    rows = [
        ("kept", "a"),
        ("", "a"),  # empty text
        (" \t\n ", "a"),  # empty text
        (None, "a"),  # missing text
        ("no label", None),  # missing label
        ("blank label", "   "),  # missing label
        ("caf\udce9", "a"),  # invalid UTF-8 (a byte decoded with surrogateescape)
        ("bad label", "\ud800"),  # invalid UTF-8
        (["a", "list"], "a"),  # malformed
        ("an object label", {"x": 1}),  # malformed
        ("kept", "b"),  # duplicate
    ]

    examples, truncated, counter = _clean(rows)

    assert examples == [Example("kept", "a")]
    assert truncated == 0
    assert counter == {
        EMPTY_TEXT: 2,
        MISSING_TEXT: 1,
        MISSING_LABEL: 2,
        INVALID_UTF8: 2,
        MALFORMED: 2,
        DUPLICATE: 1,
    }


def test_texts_and_labels_are_stripped_and_the_first_occurrence_wins():
    rows = [("  second  ", " b "), ("first", "a"), ("second", "a"), ("\tfirst\n", "b")]

    examples, _, counter = _clean(rows)

    assert examples == [Example("second", "b"), Example("first", "a")]  # in row order
    assert counter == {DUPLICATE: 2}


def test_long_texts_are_truncated_then_deduplicated():
    rows = [("abcdef", "a"), ("abcdXY", "a"), ("ab   cd", "b"), ("abc", "b")]

    examples, truncated, counter = _clean(rows, max_chars=4)

    # "ab   cd" truncates to "ab  ", kept as "ab"; "abcdXY" is "abcd" again: a duplicate.
    assert examples == [Example("abcd", "a"), Example("ab", "b"), Example("abc", "b")]
    assert truncated == 2  # a truncated duplicate is not counted as truncated
    assert counter == {DUPLICATE: 1}


@pytest.mark.parametrize(
    ("value", "expected"),
    [("x", "x"), ("", ""), (3, "3"), (2.5, "2.5"), (True, "true"), (False, "false"), (None, None)],
)
def test_as_string_of_json_scalars(value, expected):
    assert as_string(value) == expected


@pytest.mark.parametrize("value", [["a"], {"a": 1}])
def test_as_string_refuses_lists_and_objects(value):
    with pytest.raises(TypeError):
        as_string(value)


def test_group_by_label_keeps_order_within_each_label():
    examples = [Example("1", "b"), Example("2", "a"), Example("3", "b")]
    assert group_by_label(examples) == {
        "b": [Example("1", "b"), Example("3", "b")],
        "a": [Example("2", "a")],
    }


def test_integer_labels_become_strings(tmp_path):
    records = [{"text": f"example {i}", "label": i % 2} for i in range(20)]
    records.append({"text": "spaced", "label": " 1 "})
    source = write_jsonl(tmp_path / "ints.json", records)

    manifest = ingest_text_file(str(source), tmp_path / "dataset")

    assert manifest["classes"] == ["0", "1"]
    assert sum(manifest["counts"][s]["1"] for s in SPLITS) == 11
    labels = [lab for s in SPLITS for lab in read_text_split(tmp_path / "dataset", s)[1]]
    assert set(labels) == {"0", "1"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, "1"), (1.0, "1"), ("1.0", "1"), (" 2.00 ", "2"), (-3.0, "-3"), ("-3.0", "-3"),
     (1e3, "1000"), (0.5, "0.5"), ("01", "01"), ("1.5", "1.5"), ("v1.0", "v1.0"), (None, None)],
)  # fmt: skip
def test_a_whole_number_label_has_one_form(value, expected):
    assert as_label(value) == expected


def test_labels_1_and_1_0_are_one_class(tmp_path):
    forms = [1, 1.0, "1", "1.0", 0, 0.0, "0", "0.0"]
    records = [{"text": f"example {i}", "label": forms[i % len(forms)]} for i in range(40)]
    manifest = ingest_text_file(str(write_jsonl(tmp_path / "mixed.jsonl", records)), tmp_path / "d")
    assert manifest["classes"] == ["0", "1"]
    assert sum(manifest["counts"][s]["1"] for s in SPLITS) == 20
