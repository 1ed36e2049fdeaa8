"""A query job of the BigQuery emulator: its REST resource, and its result or error once done."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from pipelines.emulator.bigquery.errors import ApiError
from pipelines.emulator.bigquery.sql_types import cell


@dataclass
class QueryResult:
    """A finished query: its BigQuery schema fields and its rows (Arrow, microsecond times)."""

    fields: list[dict]
    table: pa.Table

    def page(self, start: int, count: int, int64_timestamps: bool) -> list[dict]:
        """Rows [start, start + count) as BigQuery's {"f": [{"v": ...}]} rows."""
        columns = [column.to_pylist() for column in self.table.slice(start, count).columns]
        return [
            {
                "f": [
                    {"v": cell(v, f, int64_timestamps)}
                    for v, f in zip(row, self.fields, strict=True)
                ]
            }
            for row in zip(*columns, strict=True)
        ]


@dataclass
class Job:
    """A query job: its REST resource, and its result or error once done."""

    resource: dict
    sql: str
    done: threading.Event = field(default_factory=threading.Event)
    result: QueryResult | None = None
    error: ApiError | None = None
    connection: Any = None  # the DuckDB connection while the query runs
    cancelled: bool = False

    @property
    def reference(self) -> dict:
        return self.resource["jobReference"]

    def finish(self, result: QueryResult | None, error: ApiError | None) -> None:
        self.result, self.error = result, error
        status: dict = {"state": "DONE"}
        if error is not None:
            status.update(errorResult=error.detail(), errors=[error.detail()])
        statistics = self.resource["statistics"]
        statistics["endTime"] = now_ms()
        if result is not None:
            statistics["query"]["schema"] = {"fields": result.fields}
            statistics["query"]["totalRows"] = str(result.table.num_rows)
        self.resource["status"] = status
        self.done.set()


def now_ms() -> str:
    """Now, as BigQuery's resources carry times: milliseconds since the epoch, a string."""
    return str(int(time.time() * 1000))
