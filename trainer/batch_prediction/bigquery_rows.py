"""Rows of a BigQuery table or query, streamed as JSON-ready objects of their columns (Vertex
AI's `object` instance type): from BigQuery page by page, or from the DuckDB file that
stands in for it offline (`local_database`), one record batch at a time."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterator

from serving.contracts.errors import InputError
from trainer.data.bigquery_sql import read_only_query, show_query, to_duckdb
from trainer.data.query_engines import BigQueryEngine, DuckDBEngine, sandboxed_connection

PAGE_ROWS = 1000


def query_rows(sql: str, local_database: str = "", project: str = "") -> Iterator[dict]:
    """Each row of `sql` as {column: value}, on DuckDB when `local_database` is given."""
    read_only_query(sql)
    if local_database:
        yield from _duckdb_rows(sql, local_database)
    else:
        yield from _bigquery_rows(sql, project)


def _duckdb_rows(sql: str, database: str) -> Iterator[dict]:
    import duckdb

    engine = DuckDBEngine(database)  # refuses a missing file, naming the demo command
    local_sql = to_duckdb(sql)
    try:
        with sandboxed_connection(engine.database) as connection:
            reader = connection.sql(local_sql).fetch_record_batch(PAGE_ROWS)
            for batch in reader:
                for row in batch.to_pylist():
                    yield _plain(row)
    except duckdb.Error as exc:
        raise InputError(
            f"DuckDB ({database}) could not run the batch prediction query: {exc}\n"
            f"Query (BigQuery SQL):\n{show_query(sql)}"
        ) from None


def _bigquery_rows(sql: str, project: str) -> Iterator[dict]:
    from google.api_core import exceptions

    client = BigQueryEngine(project=project).client
    try:
        for row in client.query(sql).result(page_size=PAGE_ROWS):
            yield _plain(dict(row.items()))
    except exceptions.GoogleAPICallError as exc:
        raise InputError(
            f"BigQuery could not run the batch prediction query ({exc.code}): {exc.message}\n"
            f"Query:\n{show_query(sql)}"
        ) from None


def _plain(value: object) -> object:
    """JSON-ready, as Vertex AI writes BigQuery values into instances."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        import base64

        return {"b64": base64.b64encode(value).decode("ascii")}
    return value
