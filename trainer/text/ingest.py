"""Ingest labelled texts (a CSV or JSON Lines file, or a BigQuery query) into a dataset directory.

`source_uri` is a file (local or gs://), or `bq://` followed by a BigQuery
table (`bq://project.dataset.table`) or Standard SQL query, run by the
time-series case study's engines (`trainer.data.query_engines`): on BigQuery, or
offline on a DuckDB file given as `local_database`.

Output layout, read by `read_text_split`:
    <dataset>/examples.jsonl   one {"text", "label", "split"} per line, in source order
    <dataset>/manifest.json    classes, counts per split and class, rows dropped and why;
                               written last, so a directory without it is incomplete

Splits are stratified and deterministic: within each class, an example's split
comes from a sha256 of its text (as `serving.contracts.splits.split_for` does for file
names), so a text keeps its split whatever the file order and when rows are
added. Where hashing leaves a class without an example in a split, the example
of that class whose hash lies nearest to the split's range is moved there.
"""

from __future__ import annotations

import collections
import csv
import hashlib
import io
import json
import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from serving.contracts.artifact_dirs import building_directory, read_marker_json, write_json
from serving.contracts.errors import InputError
from serving.contracts.splits import SPLITS
from serving.contracts.storage import download_object, parse_source_uri, storage_client

MANIFEST = "manifest.json"
EXAMPLES_FILE = "examples.jsonl"
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}
BIGQUERY_PREFIX = "bq://"

MISSING_TEXT = "missing text"
EMPTY_TEXT = "empty text"
MISSING_LABEL = "missing label"
INVALID_UTF8 = "invalid UTF-8"
MALFORMED = "malformed line"
DUPLICATE = "duplicate text"
DROP_REASONS = (MISSING_TEXT, EMPTY_TEXT, MISSING_LABEL, INVALID_UTF8, MALFORMED, DUPLICATE)

# Lone surrogates: bytes that were not UTF-8 (decoded with surrogateescape), or
# \udXXX escapes in JSON, which cannot be encoded as UTF-8 either.
_SURROGATE = re.compile("[\ud800-\udfff]")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Example:
    text: str
    label: str
    position: float  # in [0, 1), from the hash of the text


def ingest_text_file(
    source_uri: str,
    dataset_dir: str | Path,
    *,
    text_field: str = "text",
    label_field: str = "label",
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
    max_chars: int = 2000,
    min_examples_per_class: int = 5,
    local_database: str = "",
    bigquery_project: str = "",
) -> dict:
    """Read, clean and split the labelled texts at `source_uri`; return the manifest."""
    _check_settings(validation_fraction, test_fraction, max_chars, min_examples_per_class)
    dropped: collections.Counter = collections.Counter()
    if source_uri.startswith(BIGQUERY_PREFIX):
        fmt = "bigquery"
        rows, rows_read = _query_rows(
            source_uri, text_field, label_field, local_database, bigquery_project
        )
    else:
        fmt = _format_of(source_uri)
        text = _read_bytes(source_uri).decode("utf-8", errors="surrogateescape")
        read_rows = _csv_rows if fmt == "csv" else _jsonl_rows
        rows, rows_read = read_rows(
            source_uri, text.removeprefix("\ufeff"), text_field, label_field, dropped
        )

    examples, truncated = _clean(rows, max_chars, dropped)
    by_class = _group(examples)
    _check_classes(source_uri, by_class, dropped)
    _check_class_sizes(
        source_uri, by_class, min_examples_per_class, validation_fraction, test_fraction
    )
    splits = _assign_splits(by_class, validation_fraction, test_fraction)

    classes = sorted(by_class)
    counts = {s: {c: 0 for c in classes} for s in SPLITS}
    for example in examples:
        counts[splits[example.text]][example.label] += 1
    manifest = {
        "kind": "text_classification",
        "source_uri": source_uri,
        "format": fmt,
        "text_field": text_field,
        "label_field": label_field,
        "classes": classes,
        "counts": counts,
        "examples": len(examples),
        "examples_file": EXAMPLES_FILE,
        "rows_read": rows_read,
        "dropped_by_reason": {r: dropped[r] for r in DROP_REASONS},
        "truncated": truncated,
        "max_chars": max_chars,
        "split": {
            "method": "sha256 of the text, stratified by class",
            "validation_fraction": validation_fraction,
            "test_fraction": test_fraction,
        },
    }
    with building_directory(dataset_dir, MANIFEST) as out:
        with (out / EXAMPLES_FILE).open("w", encoding="utf-8") as handle:
            for example in examples:
                record = {"text": example.text, "label": example.label}
                record["split"] = splits[example.text]
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        write_json(out / MANIFEST, manifest)
    log.info(
        "Ingested %d of %d rows from %s in %d classes (train %d, validation %d, test %d); "
        "dropped %s; truncated %d to %d chars",
        len(examples),
        rows_read,
        source_uri,
        len(classes),
        *(sum(counts[s].values()) for s in SPLITS),
        {r: n for r, n in dropped.items() if n} or "none",
        truncated,
        max_chars,
    )
    return manifest


def read_text_manifest(dataset_dir: str | Path) -> dict:
    """The manifest of a completely ingested text dataset directory."""
    return read_marker_json(dataset_dir, MANIFEST, "Text dataset")


def read_text_split(dataset_dir: str | Path, split: str) -> tuple[list[str], list[str]]:
    """(texts, labels) of one split ('train', 'validation' or 'test'), in file order."""
    if split not in SPLITS:
        raise InputError(f"Unknown split {split!r}: use one of {', '.join(SPLITS)}.")
    manifest = read_text_manifest(dataset_dir)
    classes = set(manifest["classes"])
    texts, labels = [], []
    path = Path(dataset_dir) / manifest.get("examples_file", EXAMPLES_FILE)
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            record = json.loads(line)
            if record["split"] != split:
                continue
            if record["label"] not in classes:
                raise InputError(
                    f"{path} line {number} has label {record['label']!r}, which is not one of "
                    f"the dataset's classes {sorted(classes)}: re-run the ingest."
                )
            texts.append(record["text"])
            labels.append(record["label"])
    return texts, labels


def _check_settings(
    validation_fraction: float, test_fraction: float, max_chars: int, min_examples_per_class: int
) -> None:
    for name, value in (
        ("validation_fraction", validation_fraction),
        ("test_fraction", test_fraction),
    ):
        if not 0 <= value < 1:
            raise InputError(f"{name} must be in [0, 1), got {value}: pass a fraction like 0.15.")
    if validation_fraction + test_fraction >= 1:
        raise InputError(
            f"validation_fraction + test_fraction = {validation_fraction} + {test_fraction} = "
            f"{validation_fraction + test_fraction:g} leaves nothing for training: "
            "their sum must be below 1."
        )
    if max_chars < 1:
        raise InputError(f"max_chars must be at least 1, got {max_chars}.")
    if min_examples_per_class < 1:
        raise InputError(
            f"min_examples_per_class must be at least 1, got {min_examples_per_class}."
        )


def _format_of(source_uri: str) -> str:
    name = PurePosixPath(source_uri.strip().rstrip("/")).name
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(
            f"Source {source_uri!r} is not a format this ingest reads ({name!r} has "
            f"extension {suffix or 'none'!r}): give a .csv file with a header row, or "
            "a .jsonl/.json file with one JSON object per line."
        )
    return FORMATS[suffix]


def _read_bytes(source_uri: str) -> bytes:
    source = parse_source_uri(source_uri)
    if source.scheme == "gs":
        if not source.prefix:
            raise InputError(f"Source {source_uri!r} names no object: use gs://bucket/path/file.")
        if not storage_client().bucket(source.bucket).exists():
            raise InputError(
                f"Bucket {source.bucket!r} of source {source_uri!r} does not exist "
                "(or these credentials cannot see it): check the bucket name."
            )
        with tempfile.TemporaryDirectory(prefix="text-ingest-") as staging:
            return download_object(source_uri.strip(), staging).read_bytes()
    path = Path(source.path).expanduser()
    if not path.exists():
        raise InputError(f"Source file {source_uri!r} does not exist: check the path.")
    if not path.is_file():
        raise InputError(f"Source {source_uri!r} is not a file: point it at one .csv/.jsonl file.")
    return path.read_bytes()


def _csv_rows(
    source_uri: str, text: str, text_field: str, label_field: str, dropped: collections.Counter
) -> tuple[list[tuple[Any, Any]], int]:
    """(text, label) pairs of the usable rows; malformed / non-UTF-8 rows are counted."""
    previous_limit = csv.field_size_limit()
    csv.field_size_limit(max(previous_limit, len(text) + 1))  # very long texts are truncated
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        header = next((row for row in reader if row), None)
        if header is None:
            raise InputError(f"Source {source_uri!r} is empty: expected a CSV header row.")
        header = [name.strip() for name in header]
        missing = [f for f in (text_field, label_field) if f not in header]
        if missing:
            raise InputError(
                f"Source {source_uri!r} has no column {' or '.join(map(repr, missing))}; its "
                f"header has {len(header)} fields: {header}. Set text_field/label_field."
            )
        text_at, label_at = header.index(text_field), header.index(label_field)
        rows, rows_read = [], 0
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error:
                rows_read += 1
                dropped[MALFORMED] += 1
                continue
            if not row:
                continue  # a blank line
            rows_read += 1
            if any(_SURROGATE.search(field) for field in row):
                dropped[INVALID_UTF8] += 1
            elif len(row) != len(header):
                dropped[MALFORMED] += 1
            else:
                rows.append((row[text_at], row[label_at]))
        return rows, rows_read
    finally:
        csv.field_size_limit(previous_limit)


def _jsonl_rows(
    source_uri: str, text: str, text_field: str, label_field: str, dropped: collections.Counter
) -> tuple[list[tuple[Any, Any]], int]:
    """(text, label) pairs of the object lines; other lines are counted by reason."""
    rows, rows_read, objects = [], 0, 0
    fields_seen: set[str] = set()
    # Only "\n" ends a line: str.splitlines would also split at U+2028 inside a JSON string.
    for line in text.split("\n"):
        if not line.strip():
            continue
        rows_read += 1
        if _SURROGATE.search(line):
            dropped[INVALID_UTF8] += 1
            continue
        try:
            record = json.loads(line)
        except ValueError:
            dropped[MALFORMED] += 1
            continue
        if not isinstance(record, dict):
            dropped[MALFORMED] += 1
            continue
        objects += 1
        fields_seen.update(record)
        rows.append((record.get(text_field), record.get(label_field)))
    if not objects:
        raise InputError(
            f"Source {source_uri!r} holds no JSON objects one per line ({rows_read} non-blank "
            f"lines, {dropped[MALFORMED]} malformed, {dropped[INVALID_UTF8]} invalid UTF-8): "
            "write JSON Lines, one object per line (not a JSON array)."
        )
    missing = [f for f in (text_field, label_field) if f not in fields_seen]
    if missing:
        raise InputError(
            f"No object in {source_uri!r} has the field {' or '.join(map(repr, missing))}; "
            f"the fields found are {sorted(fields_seen)}. Set text_field/label_field."
        )
    return rows, rows_read


def _query_rows(
    source_uri: str, text_field: str, label_field: str, local_database: str, project: str
) -> tuple[list[tuple[Any, Any]], int]:
    """(text, label) pairs of a BigQuery table or query's result."""
    from trainer.data.bigquery_sql import query_for
    from trainer.data.query_engines import engine_for

    query = query_for(source_uri.removeprefix(BIGQUERY_PREFIX))
    table, _ = engine_for(local_database, project).run(query)
    if table.num_rows == 0:
        raise InputError(f"The query of {source_uri!r} returned no rows:\n{query}")
    missing = [f for f in (text_field, label_field) if f not in table.column_names]
    if missing:
        raise InputError(
            f"The result of {source_uri!r} has no column {' or '.join(map(repr, missing))}; "
            f"its columns are {table.column_names}. Set text_field/label_field."
        )
    texts = table.column(text_field).to_pylist()
    labels = table.column(label_field).to_pylist()
    return list(zip(texts, labels, strict=True)), table.num_rows


def _as_string(value: Any) -> str | None:
    """A JSON scalar as a string; None for null; '' never means missing here."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise TypeError(type(value).__name__)


def _clean(
    rows: list[tuple[Any, Any]], max_chars: int, dropped: collections.Counter
) -> tuple[list[_Example], int]:
    """Drop unusable rows and duplicates (first occurrence kept); truncate long texts."""
    examples, seen, truncated = [], set(), 0
    for raw_text, raw_label in rows:
        try:
            text, label = _as_string(raw_text), _as_string(raw_label)
        except TypeError:  # a JSON list or object where a string belongs
            dropped[MALFORMED] += 1
            continue
        if text is None:
            dropped[MISSING_TEXT] += 1
            continue
        if _SURROGATE.search(text) or (label and _SURROGATE.search(label)):
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
        examples.append(_Example(text, label, _hash_position(text)))
    return examples, truncated


def _hash_position(text: str) -> float:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _group(examples: list[_Example]) -> dict[str, list[_Example]]:
    by_class: dict[str, list[_Example]] = collections.defaultdict(list)
    for example in examples:
        by_class[example.label].append(example)
    return dict(by_class)


def _ranges(validation_fraction: float, test_fraction: float) -> dict[str, tuple[float, float]]:
    """Each split's range of hash positions, laid out as in `serving.contracts.splits.split_for`."""
    return {
        "test": (0.0, test_fraction),
        "validation": (test_fraction, test_fraction + validation_fraction),
        "train": (test_fraction + validation_fraction, 1.0),
    }


def _required_splits(validation_fraction: float, test_fraction: float) -> list[str]:
    """The splits every class must reach: those given a non-zero fraction."""
    ranges = _ranges(validation_fraction, test_fraction)
    return [s for s in SPLITS if ranges[s][1] > ranges[s][0]]


def _assign_splits(
    by_class: dict[str, list[_Example]], validation_fraction: float, test_fraction: float
) -> dict[str, str]:
    """Split of each text: by hash position, then topped up so each class is in every split."""
    ranges = _ranges(validation_fraction, test_fraction)
    required = _required_splits(validation_fraction, test_fraction)
    splits: dict[str, str] = {}
    for label in sorted(by_class):
        members: dict[str, list[_Example]] = {s: [] for s in SPLITS}
        for example in by_class[label]:
            split = next(s for s in SPLITS if ranges[s][0] <= example.position < ranges[s][1])
            members[split].append(example)
        for split in required:
            if members[split]:
                continue
            low, high = ranges[split]
            donors = [e for s in SPLITS if len(members[s]) > 1 for e in members[s]]
            nearest = min(
                donors,
                key=lambda e: (max(low - e.position, e.position - high, 0.0), e.position, e.text),
            )
            donor_split = next(s for s in SPLITS if nearest in members[s])
            members[donor_split].remove(nearest)
            members[split].append(nearest)
        for split, examples in members.items():
            for example in examples:
                splits[example.text] = split
    return splits


def _describe(by_class: dict[str, list[_Example]]) -> str:
    return ", ".join(f"{c!r} ({len(by_class[c])} examples)" for c in sorted(by_class))


def _check_classes(
    source_uri: str,
    by_class: dict[str, list[_Example]],
    dropped: collections.Counter,
) -> None:
    if len(by_class) >= 2:
        return
    found = _describe(by_class) if by_class else "no usable rows"
    drops = {r: n for r, n in dropped.items() if n}
    raise InputError(
        f"Source {source_uri!r}: a classifier needs at least 2 classes; found "
        f"{len(by_class)}: {found} (rows dropped: {drops or 'none'}). "
        "Add examples of other classes, or check label_field."
    )


def _check_class_sizes(
    source_uri: str,
    by_class: dict[str, list[_Example]],
    min_examples_per_class: int,
    validation_fraction: float,
    test_fraction: float,
) -> None:
    required = _required_splits(validation_fraction, test_fraction)
    needed = max(min_examples_per_class, len(required))
    too_few = {c: len(e) for c, e in by_class.items() if len(e) < needed}
    if not too_few:
        return
    detail = ", ".join(f"{c!r} has {n}" for c, n in sorted(too_few.items()))
    raise InputError(
        f"Source {source_uri!r} has classes with too few examples: {detail} (after dropping "
        f"unusable rows and duplicates). Each class needs at least {needed} so that "
        f"{', '.join(required)} can each hold it: add examples, drop the class, or lower "
        "min_examples_per_class."
    )
