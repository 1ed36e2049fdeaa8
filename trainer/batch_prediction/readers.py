"""Instances as Vertex AI reads them from each format, one at a time, streamed.

A row that cannot be read (a line that is not JSON, a CSV row of the wrong
width, a NaN or infinite number, a listed file that is missing) is a `Row` with
an `error` and the raw text as its instance, so it goes to the errors output and
the job goes on. A source that cannot be read at all (no file, a CSV header that does not name the
model's input) is an InputError.
"""

from __future__ import annotations

import base64
import csv
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass

from serving.contracts.errors import InputError
from trainer.batch_prediction import files
from trainer.batch_prediction.output_layout import as_text, not_finite
from trainer.batch_prediction.sources import BatchSource

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp")
_FINITE = "NaN and infinities are no JSON numbers; give a finite number, or leave it empty"


@dataclass(frozen=True)
class Row:
    """One instance as read (JSON-ready), or the raw text with why it could not be read."""

    instance: object
    error: str = ""


def read_rows(source: BatchSource, input_name: str, local_database: str = "") -> Iterator[Row]:
    """Every instance of `source`, in order (`input_name`: the model's input, which a CSV of one
    column must name; "" when it is not known, as to Vertex AI)."""
    if source.format == "bigquery":
        from trainer.batch_prediction.bigquery_rows import query_rows

        for number, row in enumerate(query_rows(source.sql, local_database), 1):
            if found := not_finite(row):
                yield Row(as_text(row), f"Row {number} of the query holds {found}: {_FINITE}")
            else:
                yield Row(row)
        return
    uris = files.expand(source.uri)
    for uri in uris:
        if source.format == "jsonl":
            yield from _jsonl(uri)
        elif source.format == "csv":
            yield from _csv(uri, input_name)
        elif uris == [source.uri] and source.format == "file-list" and not _is_image(uri):
            yield from _file_list(uri)
        else:  # a folder or prefix of files: each is an instance
            yield _file(uri)


def _is_image(uri: str) -> bool:
    """A single image file given as the source is one instance, not a list of files."""
    return uri.lower().endswith(IMAGE_SUFFIXES)


def _jsonl(uri: str) -> Iterator[Row]:
    for number, line in enumerate(files.open_lines(uri), 1):
        if not line.strip():
            continue
        try:
            yield Row(json.loads(line, parse_constant=_no_constant, parse_float=_finite))
        except ValueError as exc:
            yield Row(line, f"{uri} line {number} is not JSON: {exc}")


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value (write null for a missing number)")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is not a finite number ({_FINITE})")
    return value


def _csv(uri: str, input_name: str) -> Iterator[Row]:
    with files.open_text(uri) as text:
        reader = csv.reader(text)
        header = next(reader, None)
        if not header:
            return
        if input_name and len(header) == 1 and header[0].strip() != input_name:
            raise InputError(
                f"CSV {uri} has the column {header[0]!r}; this model takes {input_name!r}: "
                f"name the column {input_name} (or give one numeric column per value)."
            )
        for number, fields in enumerate(reader, 2):
            if not fields:
                continue
            if len(fields) != len(header):
                yield Row(
                    ",".join(fields),
                    f"{uri} row {number} has {len(fields)} fields; the header has {len(header)}.",
                )
            elif len(header) == 1:
                yield Row(fields[0])
            else:  # Vertex's `array` instance: the row's values in column order
                values = [_number(value) for value in fields]
                if found := not_finite(values):
                    yield Row(",".join(fields), f"{uri} row {number} holds {found}: {_FINITE}")
                else:
                    yield Row(values)


def _number(value: str) -> object:
    if not value.strip():
        return None
    try:
        return float(value)
    except ValueError:
        return value


def _file_list(uri: str) -> Iterator[Row]:
    for line in files.open_lines(uri):
        if line.strip():
            yield _file(line.strip())


def _file(uri: str) -> Row:
    try:
        data = files.read_bytes(uri)
    except (InputError, OSError) as exc:  # a missing or unreadable file: that row's error
        return Row(uri, f"{uri} could not be read: {exc}")
    return Row({"b64": base64.b64encode(data).decode("ascii")})
