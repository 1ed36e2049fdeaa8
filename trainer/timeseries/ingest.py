"""Ingest the result of one BigQuery query (or a whole table) into a dataset directory.

Output layout, read by `trainer.timeseries.series`:
    <dataset>/data.parquet    the rows, with the column types the engine returned (Arrow)
    <dataset>/manifest.json   engine, the query as given and as run, row count, columns
                              and types, time range; written last, as the completion marker

The same query runs on BigQuery or on the local DuckDB stand-in
(trainer.data.query_engines); the manifest records which, and the SQL that ran.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from serving.contracts.artifact_dirs import building_directory, read_marker_json, write_json
from serving.contracts.errors import InputError
from trainer.data.bigquery_sql import query_for, show_query
from trainer.data.query_engines import QueryEngine, engine_for

MANIFEST = "manifest.json"
DATA = "data.parquet"

log = logging.getLogger(__name__)


def ingest_table(
    source_uri: str,
    dataset_dir: str | Path,
    local_database: str = "",
    bigquery_project: str = "",
    bigquery_location: str = "",
) -> dict:
    """Run a BigQuery query or table (on DuckDB with `local_database`) into `dataset_dir`."""
    engine = engine_for(local_database, bigquery_project, bigquery_location)
    return ingest_query(source_uri, dataset_dir, engine)


def ingest_query(
    source: str, dataset_dir: str | Path, engine: QueryEngine, time_column: str = ""
) -> dict:
    """Run `source` (a query or a table reference) on `engine`; write and return the manifest.

    `time_column` names the column whose range the manifest records; by default
    the first TIMESTAMP or DATE column, if any. Everything is checked before
    the directory is touched, and a failure while writing leaves no manifest.
    """
    query = query_for(source)
    table, query_as_run = engine.run(query)
    if table.num_rows == 0:
        raise InputError(
            f"The query returned no rows ({engine.name}): check its filters and the table "
            f"name.\nQuery:\n{show_query(query)}"
        )
    manifest = {
        "engine": engine.name,
        "source": source.strip(),
        "query": query,
        "query_as_run": query_as_run,
        "row_count": table.num_rows,
        "columns": [{"name": f.name, "type": str(f.type)} for f in table.schema],
        "time_range": _time_range(table, time_column),
        "ingested_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    with building_directory(dataset_dir, MANIFEST) as out:
        tmp = out / f".{DATA}.tmp"  # a killed write leaves no data.parquet, only this
        pq.write_table(table, tmp)
        os.replace(tmp, out / DATA)
        write_json(out / MANIFEST, manifest)
    log.info(
        "Ingested %d rows x %d columns from %s into %s",
        table.num_rows,
        table.num_columns,
        engine.name,
        dataset_dir,
    )
    return manifest


def read_manifest(dataset_dir: str | Path) -> dict:
    """The manifest of a completely ingested dataset directory."""
    return read_marker_json(dataset_dir, MANIFEST, "Dataset")


def _time_range(table: pa.Table, time_column: str) -> dict | None:
    """{"column", "min", "max"} as ISO strings, for `time_column` or the first temporal column."""
    if time_column:
        if time_column not in table.column_names:
            raise InputError(
                f"Time column {time_column!r} is not in the query result, whose columns are "
                f"{', '.join(table.column_names)}: set time_column to one of them."
            )
        column = time_column
    else:
        temporal = [
            f.name
            for f in table.schema
            if pa.types.is_timestamp(f.type) or pa.types.is_date(f.type)
        ]
        if not temporal:
            return None
        column = temporal[0]
    try:
        bounds = pc.min_max(table[column])
    except pa.ArrowNotImplementedError:
        raise InputError(
            f"Time column {column!r} has type {table.schema.field(column).type}, which has no "
            "order: set time_column to a TIMESTAMP, DATETIME or DATE column."
        ) from None
    return {
        "column": column,
        "min": _iso(bounds["min"].as_py()),
        "max": _iso(bounds["max"].as_py()),
    }


def _iso(value) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
