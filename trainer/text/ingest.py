"""Ingest labelled texts into a dataset directory: read, clean, split, check, write.

Reading the source (a CSV or JSON Lines file, local or gs://, or a BigQuery table or
query) is `trainer.text.readers`; turning its rows into examples is
`trainer.text.cleaning`.

Output layout, read by `read_text_split`:
    <dataset>/examples.jsonl   one {"text", "label", "split"} per line, in source order
    <dataset>/manifest.json    classes, counts per split and class, rows dropped and why;
                               written last, so a directory without it is incomplete

Splits are stratified and deterministic (`serving.contracts.splits.stratified_splits`):
an example's split comes from a sha256 of its text, as a file's does from its name, so
a text keeps its split whatever the file order and when rows are added. Where hashing
leaves a class without an example in a split, the example of that class whose hash
lies nearest to the split's range is moved there.
"""

from __future__ import annotations

import collections
import json
import logging
from pathlib import Path

from serving.contracts.artifact_dirs import building_directory, read_marker_json, write_json
from serving.contracts.errors import InputError
from serving.contracts.splits import SPLITS, required_splits, stratified_splits
from trainer.text.cleaning import DROP_REASONS, Example, clean_rows, group_by_label
from trainer.text.config import check_ingest_options
from trainer.text.readers import read_source

MANIFEST = "manifest.json"
EXAMPLES_FILE = "examples.jsonl"

log = logging.getLogger(__name__)


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
    check_ingest_options(validation_fraction, test_fraction, max_chars, min_examples_per_class)
    dropped: collections.Counter = collections.Counter()
    source = read_source(
        source_uri,
        text_field,
        label_field,
        dropped,
        local_database=local_database,
        bigquery_project=bigquery_project,
    )
    examples, truncated = clean_rows(source.rows, max_chars, dropped)
    by_class = group_by_label(examples)
    _check_classes(source_uri, by_class, dropped)
    _check_class_sizes(
        source_uri, by_class, min_examples_per_class, validation_fraction, test_fraction
    )
    splits = stratified_splits(
        {label: [e.text for e in members] for label, members in by_class.items()},
        validation_fraction,
        test_fraction,
    )

    classes = sorted(by_class)
    counts = {s: {c: 0 for c in classes} for s in SPLITS}
    for example in examples:
        counts[splits[example.text]][example.label] += 1
    manifest = {
        "kind": "text_classification",
        "source_uri": source_uri,
        "format": source.format,
        "text_field": text_field,
        "label_field": label_field,
        "classes": classes,
        "counts": counts,
        "examples": len(examples),
        "examples_file": EXAMPLES_FILE,
        "rows_read": source.rows_read,
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
        source.rows_read,
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


def _describe(by_class: dict[str, list[Example]]) -> str:
    return ", ".join(f"{c!r} ({len(by_class[c])} examples)" for c in sorted(by_class))


def _check_classes(
    source_uri: str,
    by_class: dict[str, list[Example]],
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
    by_class: dict[str, list[Example]],
    min_examples_per_class: int,
    validation_fraction: float,
    test_fraction: float,
) -> None:
    required = required_splits(validation_fraction, test_fraction)
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
