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
import io
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


def read_rows(
    source: BatchSource, input_name: str, local_database: str = "", as_vertex: bool = False
) -> Iterator[Row]:
    """Every instance of `source`, in order (`input_name`: the model's input, which a CSV of one
    column must name; "" when it is not known, as to Vertex AI). `as_vertex`: read a
    `gcs_source_uris` entry as Vertex AI does (an object or a wildcard, never a folder; in
    file-list format always a list of files), for the emulator."""
    if source.format == "bigquery":
        from trainer.batch_prediction.bigquery_rows import query_rows

        for number, row in enumerate(query_rows(source.sql, local_database), 1):
            if found := not_finite(row):
                yield Row(as_text(row), f"Row {number} of the query holds {found}: {_FINITE}")
            else:
                yield Row(row)
        return
    one_object = as_vertex and "*" not in source.uri
    uris = [source.uri] if one_object else files.expand(source.uri)
    for uri in uris:
        if source.format == "jsonl":
            yield from _jsonl(uri)
        elif source.format == "csv":
            yield from _csv(uri, input_name)
        elif as_vertex or (uris == [source.uri] and not _is_image(uri)):  # a list of files
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
    """The rows of a CSV file; a row csv refuses (a NUL byte, a field over csv's limit) is an
    error with its raw text, a file that is not UTF-8 an InputError."""
    with files.open_text(uri) as text:
        lines = _Lines(text)
        reader = csv.reader(lines)
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise InputError(
                f"CSV {uri} has no readable header ({exc}): fix its first line."
            ) from None
        except UnicodeDecodeError as exc:
            raise InputError(f"{uri} is not UTF-8 text ({exc}): save it as UTF-8.") from None
        if not header:
            return
        if input_name and len(header) == 1 and header[0].strip() != input_name:
            raise InputError(
                f"CSV {uri} has the column {header[0]!r}; this model takes {input_name!r}: "
                f"name the column {input_name} (or give one numeric column per value)."
            )
        number = 1
        while True:
            number += 1
            lines.taken.clear()
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield Row(lines.raw(), f"{uri} row {number} is not CSV: {exc}.")
                continue
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"{uri} is not UTF-8 text (row {number}: {exc}): save it as UTF-8."
                ) from None
            if fields:
                yield _csv_row(uri, number, header, fields)


class _Lines:
    """The text's lines, keeping those of the row being read (its raw text for an error)."""

    def __init__(self, text: io.TextIOBase) -> None:
        self.text, self.taken = text, []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self.text)
        self.taken.append(line)
        return line

    def raw(self) -> str:
        return "".join(self.taken).rstrip("\r\n")


def _csv_row(uri: str, number: int, header: list[str], fields: list[str]) -> Row:
    if len(fields) != len(header):
        return Row(
            ",".join(fields),
            f"{uri} row {number} has {len(fields)} fields; the header has {len(header)}.",
        )
    if len(header) == 1:
        return Row(fields[0])
    values = [_number(value) for value in fields]  # Vertex's `array` instance, column order
    if found := not_finite(values):
        return Row(",".join(fields), f"{uri} row {number} holds {found}: {_FINITE}")
    return Row(values)


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
