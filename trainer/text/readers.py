"""Read the raw (text, label) values of a text source: a CSV or JSON Lines file, or a query.

`source_uri` is a file (local or gs://), its format told by its extension, or
`bq://` followed by a BigQuery table (`bq://project.dataset.table`) or Standard
SQL query, run by the time-series case study's engines (`trainer.data.query_engines`):
on BigQuery, or offline on a DuckDB file given as `local_database`.

A file is decoded by `trainer.text.encodings` (per its byte-order mark, else as UTF-8;
a file in another encoding is refused, named). A .csv or .tsv file is separated by the
first of comma, tab and semicolon its header row has: Excel's "Unicode Text" export
is tab-separated, and its CSV is semicolon-separated where the comma is decimal.
Readers only find rows: malformed lines are counted in `dropped`; what a row's values
mean is for `trainer.text.cleaning`.
"""

from __future__ import annotations

import collections
import csv
import io
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from serving.contracts.errors import InputError
from serving.contracts.storage import download_object, parse_source_uri, storage_client
from trainer.text.cleaning import MALFORMED
from trainer.text.encodings import decode_source

FORMATS = {".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}
BIGQUERY_PREFIX = "bq://"


@dataclass(frozen=True)
class SourceRows:
    """What a source held: its format, the (text, label) values of its rows, rows read."""

    format: str  # "csv", "jsonl" or "bigquery"
    rows: list[tuple[Any, Any]]
    rows_read: int  # every row, including those counted in `dropped`


def read_source(
    source_uri: str,
    text_field: str,
    label_field: str,
    dropped: collections.Counter,
    *,
    local_database: str = "",
    bigquery_project: str = "",
) -> SourceRows:
    """The rows of the file or query at `source_uri`; unreadable lines counted in `dropped`."""
    if source_uri.startswith(BIGQUERY_PREFIX):
        rows, rows_read = _query_rows(
            source_uri, text_field, label_field, local_database, bigquery_project
        )
        return SourceRows("bigquery", rows, rows_read)
    fmt = _format_of(source_uri)
    text = decode_source(_read_bytes(source_uri), source_uri)
    read_rows = _csv_rows if fmt == "csv" else _jsonl_rows
    rows, rows_read = read_rows(source_uri, text, text_field, label_field, dropped)
    return SourceRows(fmt, rows, rows_read)


def _format_of(source_uri: str) -> str:
    """'csv' or 'jsonl', from the file name's extension."""
    name = PurePosixPath(source_uri.strip().rstrip("/")).name
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(
            f"Source {source_uri!r} is not a format this ingest reads ({name!r} has "
            f"extension {suffix or 'none'!r}): give a .csv (or tab-separated .tsv) file with "
            "a header row, or a .jsonl/.json file with one JSON object per line."
        )
    return FORMATS[suffix]


def _read_bytes(source_uri: str) -> bytes:
    """The contents of a local or gs:// file."""
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
    """(text, label) pairs of the usable rows; malformed rows are counted."""
    previous_limit = csv.field_size_limit()
    csv.field_size_limit(max(previous_limit, len(text) + 1))  # very long texts are truncated
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
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
            if len(row) != len(header):
                dropped[MALFORMED] += 1
            else:
                rows.append((row[text_at], row[label_at]))
        return rows, rows_read
    finally:
        csv.field_size_limit(previous_limit)


def _delimiter(text: str) -> str:
    """The first of comma, tab and semicolon the header row has (Excel writes all three)."""
    header = next((line for line in io.StringIO(text) if line.strip()), "")
    return next((d for d in ",\t;" if d in header), ",")


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
            f"lines, {dropped[MALFORMED]} malformed): "
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
