"""The BigQuery emulator's DuckDB warehouse: read-only connections, queries and table reads.

Each query and each table read opens its own read-only connection (in UTC), so
that queries run side by side and none can change the warehouse. DuckDB's
errors come back as BigQuery's (errors.ApiError).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipelines.emulator.bigquery.checks import check_tables, table_references
from pipelines.emulator.bigquery.errors import ApiError, cancelled, invalid_query
from pipelines.emulator.bigquery.jobs import Job, QueryResult
from pipelines.emulator.bigquery.sql_types import (
    Unrepresentable,
    check_values,
    fields,
    microseconds,
    parameters,
)
from serving.contracts.errors import InputError
from trainer.data.bigquery_sql import to_duckdb
from trainer.data.query_engines import sandboxed_connection


class Warehouse:
    """The DuckDB file `database`; `project` owns its datasets (named in notFound messages)."""

    def __init__(self, database: Path, project: str):
        self.database = database
        self.project = project

    def run(self, job: Job, attach: Callable[[Any], None], dry_run: bool = False) -> QueryResult:
        """The result of the job's query (dry run: no rows). `attach` gets the connection
        before the query starts, so that it can be interrupted; it raises to stop the job."""
        import duckdb

        try:
            local_sql = to_duckdb(job.sql)
        except InputError as exc:
            raise invalid_query(str(exc).split("\nQuery:\n", 1)[0]) from None
        query_config = job.resource["configuration"]["query"]
        default_dataset = (query_config.get("defaultDataset") or {}).get("datasetId", "")
        with self.connect() as connection:
            check_tables(
                connection,
                table_references(job.sql, default_dataset),
                self.project,
                job.reference["location"],
            )
            attach(connection)
            try:
                if default_dataset:
                    connection.execute("SET schema = " + quote(default_dataset, "'"))
                relation = connection.sql(local_sql, params=parameters(query_config))
                kinds = relation.types
                columns = fields(relation)
                table = relation.limit(0).to_arrow_table() if dry_run else relation.to_arrow_table()
            except duckdb.InterruptException:
                raise cancelled() from None
            except duckdb.Error as exc:
                raise invalid_query(f"{exc}\n(As run on DuckDB: {local_sql})") from None
            except Unrepresentable as exc:
                raise invalid_query(str(exc)) from None
        table = microseconds(table)
        try:
            check_values(table, columns, kinds)
        except Unrepresentable as exc:
            raise invalid_query(str(exc)) from None
        return QueryResult(columns, table)

    def read_table(
        self, project: str, dataset: str, table: str, columns: str, start: int, count: int
    ) -> tuple[QueryResult, int]:
        """Rows [start, start + count) of dataset.table, and its row count."""
        with self.connect() as connection:
            check_tables(connection, [(project, dataset, table)], self.project, "US")
            name = f"{quote(dataset)}.{quote(table)}"
            selected = ", ".join(quote(c.strip()) for c in columns.split(",") if c.strip())
            try:
                relation = connection.sql(
                    f"SELECT {selected or '*'} FROM {name} LIMIT {count} OFFSET {start}"
                )
                columns = fields(relation)
                arrow = relation.to_arrow_table()
                (total,) = connection.execute(f"SELECT COUNT(*) FROM {name}").fetchone()
            except (duckdb_error(), Unrepresentable) as exc:
                raise ApiError(400, "invalid", str(exc)) from None
        return QueryResult(columns, microseconds(arrow)), total

    def connect(self):
        """A read-only connection to the warehouse, in UTC; ApiError when it cannot be had."""
        import duckdb

        if not self.database.is_file():
            raise ApiError(404, "notFound", f"The emulator's warehouse {self.database} is missing.")
        try:
            connection = sandboxed_connection(self.database)
        except duckdb.Error as exc:
            raise ApiError(
                400, "invalid", f"The emulator's warehouse cannot be opened: {exc}"
            ) from None
        return connection


def quote(name: str, quote: str = '"') -> str:
    """A DuckDB identifier (or, with quote="'", string literal)."""
    return quote + name.replace(quote, quote * 2) + quote


def duckdb_error() -> type[Exception]:
    """duckdb.Error; duckdb is imported only when the emulator reads the warehouse."""
    import duckdb

    return duckdb.Error
