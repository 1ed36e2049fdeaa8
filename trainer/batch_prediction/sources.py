"""What a batch prediction reads: a source URI (or query) and its instances format.

The formats are Vertex AI's `instancesFormat` values: `jsonl` (one instance a
line), `csv` (a header, then one instance a row), `file-list` (one file URI a
line; each file's bytes become `{"b64": ...}`) and `bigquery` (a table or a
query; each row an object of its columns). A folder or `gs://` prefix of image
files is a file list of its files. The format is taken from the source when
not given: `bq://` or a query is BigQuery, then the file extension.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from serving.contracts.errors import InputError
from serving.contracts.storage import parse_source_uri
from trainer.data.bigquery_sql import query_for

FORMATS = ("jsonl", "csv", "file-list", "bigquery")
BIGQUERY_PREFIX = "bq://"
_QUERY = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)
_EXTENSIONS = {".jsonl": "jsonl", ".json": "jsonl", ".csv": "csv", ".txt": "file-list"}


@dataclass(frozen=True)
class BatchSource:
    """A checked source: `uri` (files, or `bq://project.dataset.table`) or a BigQuery `query`."""

    format: str
    uri: str = ""
    query: str = ""

    @property
    def sql(self) -> str:
        """The BigQuery SQL that reads the instances (bigquery only)."""
        return query_for(self.query or self.uri[len(BIGQUERY_PREFIX) :])


def resolve_source(source: str, instances_format: str = "") -> BatchSource:
    """The source `source` names, in `instances_format` (inferred when empty); else InputError."""
    source = (source or "").strip()
    if not source:
        raise InputError(
            "No batch prediction source: give SOURCE=gs://bucket/instances.jsonl (or .csv, a "
            "file list .txt, a folder of images, bq://project.dataset.table or a SELECT query)."
        )
    if instances_format and instances_format not in FORMATS:
        raise InputError(
            f"instances_format {instances_format!r} is not one of {', '.join(FORMATS)} "
            "(Vertex AI's instancesFormat values): pick one, or leave it empty to infer it."
        )
    is_query = bool(_QUERY.match(source))
    if is_query or source.startswith(BIGQUERY_PREFIX):
        if instances_format not in ("", "bigquery"):
            raise InputError(
                f"Source {source[:80]!r} is BigQuery, but instances_format is "
                f"{instances_format!r}: leave it empty or set bigquery."
            )
        if is_query:
            return BatchSource("bigquery", query=source)
        query_for(source[len(BIGQUERY_PREFIX) :])  # refuses what is no table reference
        return BatchSource("bigquery", uri=source)
    parse_source_uri(source)  # gs:// or a local path, else a clear error
    if instances_format == "bigquery":
        raise InputError(
            f"instances_format is bigquery but source {source!r} is a file: give "
            "bq://project.dataset.table or a SELECT query."
        )
    suffix = re.search(r"\.[A-Za-z]+$", source.rstrip("/"))
    inferred = _EXTENSIONS.get(suffix.group(0).lower(), "") if suffix else ""
    return BatchSource(instances_format or inferred or "file-list", uri=source)
