"""The BigQuery REST API (v2) served from the project's DuckDB warehouse, for the real client.

The time-series pipeline ingests with google-cloud-bigquery; offline there is
no BigQuery, so this serves the requests that client makes for a query
(read from google-cloud-bigquery 3.47) on a DuckDB file, read-only:

- jobs.insert (POST projects/{p}/jobs): a query job, RUNNING; the query runs in a
  worker thread on its own read-only DuckDB connection. `configuration.dryRun`
  answers at once with the result schema.
- jobs.query (POST projects/{p}/queries): the same job, waited for up to timeoutMs,
  with the first page of rows when it is done (query_and_wait).
- jobs.get, jobs.cancel (the DuckDB query is interrupted).
- jobs.getQueryResults (GET projects/{p}/queries/{id}): waits up to timeoutMs (10 s by
  default, as BigQuery) for the job, then schema, totalRows and rows, paged with
  pageToken / startIndex / maxResults; `fields` selects top-level keys.
- tables.get and tabledata.list, for client.get_table / client.list_rows.

The SQL is BigQuery's: trainer.data.bigquery_sql transpiles it (`project.dataset.table`
reads the DuckDB table `dataset.table`, in any project), as the ingest step's
local engine does. Result types and cells are BigQuery's (pipelines.emulator.
bigquery_types). Errors have BigQuery's shape and reasons: bad SQL fails the job
with invalidQuery and the engine's message; a missing dataset or table fails it
with notFound, named as BigQuery names it; what the emulator does not do (DML,
DDL, scripts, legacy SQL, load / copy / extract jobs, destination tables, other
API methods) is refused with 400 saying what it serves. Every request is
recorded in `requests`.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote

import pyarrow as pa

from pipelines.emulator.bigquery_types import (
    Unrepresentable,
    cell,
    check_values,
    fields,
    microseconds,
    parameters,
)
from serving.contracts.errors import InputError
from trainer.data.bigquery_sql import to_duckdb

log = logging.getLogger(__name__)

PREFIXES = ("/bigquery/v2/", "/upload/bigquery/v2/")
JSON_HEADERS = {"Content-Type": "application/json; charset=UTF-8"}
DEFAULT_WAIT_S = 10.0  # how long getQueryResults / jobs.query wait without timeoutMs
MAX_WAIT_S = 60.0
SUPPORTED = (
    "The BigQuery emulator runs read-only GoogleSQL queries (one SELECT per job) on its "
    "DuckDB warehouse, through jobs.insert, jobs.query, jobs.get, jobs.cancel, "
    "jobs.getQueryResults, tables.get and tabledata.list"
)
_SEGMENT = r"([^/]+)"
_ROUTES = [
    (method, re.compile(f"^projects/{_SEGMENT}/{pattern}$"), name)
    for method, pattern, name in [
        ("POST", "jobs", "_insert_job"),
        ("GET", f"jobs/{_SEGMENT}", "_get_job"),
        ("POST", f"jobs/{_SEGMENT}/cancel", "_cancel_job"),
        ("POST", "queries", "_query"),
        ("GET", f"queries/{_SEGMENT}", "_query_results"),
        ("GET", f"datasets/{_SEGMENT}/tables/{_SEGMENT}", "_get_table"),
        ("GET", f"datasets/{_SEGMENT}/tables/{_SEGMENT}/data", "_list_table_rows"),
    ]
]


@dataclass(frozen=True)
class Request:
    """One request as received: the body parsed from JSON (None when empty)."""

    method: str
    path: str
    query: dict[str, str]
    body: Any


class ApiError(Exception):
    """An error answered in BigQuery's JSON shape."""

    _STATUS_NAMES: ClassVar[dict[int, str]] = {
        400: "INVALID_ARGUMENT",
        404: "NOT_FOUND",
        409: "ALREADY_EXISTS",
    }

    def __init__(self, status: int, reason: str, message: str, location: str = ""):
        super().__init__(message)
        self.status, self.reason, self.message, self.location = status, reason, message, location

    def detail(self) -> dict:
        detail = {"reason": self.reason, "message": self.message}
        if self.location:
            detail["location"] = self.location
        return detail

    def payload(self) -> dict:
        return {
            "error": {
                "code": self.status,
                "message": self.message,
                "errors": [{**self.detail(), "domain": "global"}],
                "status": self._STATUS_NAMES.get(self.status, "UNKNOWN"),
            }
        }


def invalid_query(message: str) -> ApiError:
    return ApiError(400, "invalidQuery", message, "query")


def unsupported(what: str) -> ApiError:
    return ApiError(400, "invalid", f"{SUPPORTED}; {what} is not supported.")


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
        statistics["endTime"] = _now_ms()
        if result is not None:
            statistics["query"]["schema"] = {"fields": result.fields}
            statistics["query"]["totalRows"] = str(result.table.num_rows)
        self.resource["status"] = status
        self.done.set()


class BigQueryEmulator:
    """Serves BigQuery's REST API from the DuckDB file `database` (opened read-only per query).

    `project` owns the warehouse's datasets: not-found messages name tables in it when
    the query names no project. Jobs may be created in any project. `page_rows` caps
    the rows of one page (BigQuery caps pages at 10 MB).
    """

    def __init__(self, database: Path | str, project: str, page_rows: int = 10_000):
        self.database = Path(database)
        self.project = project
        self.page_rows = page_rows
        self.requests: list[Request] = []
        self._jobs: dict[tuple[str, str], Job] = {}
        self._request_ids: dict[str, tuple[str, str]] = {}
        self._lock = threading.Lock()

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> tuple[int, dict[str, str], bytes] | None:
        """Answer one HTTP request; None when `path` is not a BigQuery API path."""
        path = path.split("?", 1)[0]
        prefix = next((p for p in PREFIXES if path.startswith(p)), None)
        if prefix is None:
            return None
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = body.decode("utf-8", "replace")
        with self._lock:
            self.requests.append(Request(method, path, dict(query), parsed))
        try:
            if isinstance(parsed, str):
                raise ApiError(400, "parseError", "Parse Error: the request body is not JSON.")
            status, payload = self._route(method, path[len(prefix) :], query, parsed)
        except ApiError as error:
            status, payload = error.status, error.payload()
        except Exception as exc:  # answered, so that the client does not retry a dropped call
            log.exception("BigQuery emulator failed on %s %s", method, path)
            error = _failed(exc)
            status, payload = error.status, error.payload()
        return status, dict(JSON_HEADERS), json.dumps(payload).encode()

    def close(self) -> None:
        """Interrupt the queries still running."""
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            self._interrupt(job, wait_s=1.0)

    def _route(self, method: str, path: str, query: dict, body: Any) -> tuple[int, dict]:
        for route_method, pattern, name in _ROUTES:
            match = pattern.match(path)
            if match and method == route_method:
                args = [unquote(group) for group in match.groups()]
                return 200, getattr(self, name)(*args, query=query, body=body or {})
        raise unsupported(f"{method} {path}")

    # jobs.insert, jobs.query

    def _insert_job(self, project: str, query: dict, body: dict) -> dict:
        configuration = body.get("configuration") or {}
        reference = dict(body.get("jobReference") or {})
        job_id = reference.get("jobId") or f"job_{uuid.uuid4().hex}"
        location = reference.get("location") or query.get("location") or "US"
        return self._start(project, job_id, location, configuration)

    def _query(self, project: str, query: dict, body: dict) -> dict:
        """jobs.query: a job created and waited for, answered like getQueryResults."""
        request_id = body.get("requestId")
        with self._lock:
            known = self._request_ids.get(request_id) if request_id else None
        if known is None:
            config_keys = ("query", "useLegacySql", "defaultDataset", "parameterMode")
            configuration = {"query": {k: body[k] for k in config_keys if k in body}}
            configuration["query"]["queryParameters"] = body.get("queryParameters", [])
            if body.get("dryRun"):
                configuration["dryRun"] = True
            job_id = f"job_{uuid.uuid4().hex}"
            resource = self._start(project, job_id, body.get("location") or "US", configuration)
            if body.get("dryRun"):
                return {
                    "kind": "bigquery#queryResponse",
                    "jobReference": resource["jobReference"],
                    "jobComplete": True,
                    "schema": resource["statistics"]["query"]["schema"],
                    "totalBytesProcessed": "0",
                }
            known = (project, job_id)
            if request_id:
                with self._lock:
                    self._request_ids[request_id] = known
        job = self._job(*known, location="")
        options = {
            "timeoutMs": body.get("timeoutMs"),
            "maxResults": body.get("maxResults"),
            "formatOptions.useInt64Timestamp": (body.get("formatOptions") or {}).get(
                "useInt64Timestamp"
            ),
        }
        response = self._results(job, {k: str(v) for k, v in options.items() if v is not None})
        response["kind"] = "bigquery#queryResponse"
        return response

    def _start(self, project: str, job_id: str, location: str, configuration: dict) -> dict:
        sql = _check_configuration(configuration)
        now = _now_ms()
        config = json.loads(json.dumps(configuration))
        config["jobType"] = "QUERY"
        config["query"]["destinationTable"] = {
            "projectId": project,
            "datasetId": "_emulator_anonymous",
            "tableId": f"anon_{job_id}",
        }
        reference = {"projectId": project, "jobId": job_id, "location": location}
        resource = {
            "kind": "bigquery#job",
            "id": f"{project}:{location}.{job_id}",
            "jobReference": reference,
            "configuration": config,
            "status": {"state": "RUNNING"},
            "statistics": {
                "creationTime": now,
                "startTime": now,
                "query": {"totalBytesProcessed": "0", "cacheHit": False, "statementType": "SELECT"},
            },
        }
        job = Job(resource=resource, sql=sql)
        if configuration.get("dryRun"):
            fields = self._execute(job, dry_run=True).fields
            resource["status"] = {"state": "DONE"}
            resource["statistics"]["query"]["schema"] = {"fields": fields}
            return json.loads(json.dumps(resource))
        with self._lock:
            if (project, job_id) in self._jobs:
                raise ApiError(
                    409, "duplicate", f"Already Exists: Job {project}:{location}.{job_id}"
                )
            self._jobs[(project, job_id)] = job
            answer = json.loads(json.dumps(resource))  # RUNNING, before the worker can finish
        log.info("BigQuery job %s:\n%s", job_id, sql)
        threading.Thread(target=self._run, args=(job,), name=f"bq-{job_id}", daemon=True).start()
        return answer

    # jobs.get, jobs.cancel, jobs.getQueryResults

    def _get_job(self, project: str, job_id: str, query: dict, body: dict) -> dict:
        job = self._job(project, job_id, query.get("location", ""))
        with self._lock:
            return json.loads(json.dumps(job.resource))

    def _cancel_job(self, project: str, job_id: str, query: dict, body: dict) -> dict:
        job = self._job(project, job_id, query.get("location", ""))
        self._interrupt(job)
        return {"kind": "bigquery#jobCancelResponse", "job": self._get_job(project, job_id, {}, {})}

    def _query_results(self, project: str, job_id: str, query: dict, body: dict) -> dict:
        return self._results(self._job(project, job_id, query.get("location", "")), query)

    def _results(self, job: Job, query: dict) -> dict:
        wait = _number(query, "timeoutMs", DEFAULT_WAIT_S * 1000) / 1000
        complete = job.done.wait(min(max(wait, 0), MAX_WAIT_S))
        response: dict = {
            "kind": "bigquery#getQueryResultsResponse",
            "jobReference": job.reference,
            "jobComplete": complete,
        }
        if not complete:
            return response
        if job.error is not None:
            raise job.error
        result = job.result
        assert result is not None
        total = result.table.num_rows
        start = _page_start(query, total)
        count = self._page_count(query)
        int64_timestamps = _flag(query, "formatOptions.useInt64Timestamp")
        response.update(
            schema={"fields": result.fields},
            totalRows=str(total),
            totalBytesProcessed="0",
            cacheHit=False,
            rows=result.page(start, count, int64_timestamps),
        )
        if not response["rows"]:
            del response["rows"]
        if count and start + count < total:
            response["pageToken"] = _page_token(start + count)
        return _select(response, query.get("fields"))

    def _page_count(self, query: dict) -> int:
        """Rows in the page asked for: maxResults, at most page_rows (negative: page_rows)."""
        count = _number(query, "maxResults", self.page_rows)
        return self.page_rows if count < 0 else min(count, self.page_rows)

    # tables.get, tabledata.list

    def _get_table(self, project: str, dataset: str, table: str, query: dict, body: dict) -> dict:
        result, total = self._read_table(project, dataset, table, "", 0, 0)
        return {
            "kind": "bigquery#table",
            "id": f"{project}:{dataset}.{table}",
            "tableReference": {"projectId": project, "datasetId": dataset, "tableId": table},
            "type": "TABLE",
            "schema": {"fields": result.fields},
            "numRows": str(total),
            "location": "US",
        }

    def _list_table_rows(
        self, project: str, dataset: str, table: str, query: dict, body: dict
    ) -> dict:
        start = _page_start(query, None)
        count = self._page_count(query)
        columns = query.get("selectedFields", "")
        result, total = self._read_table(project, dataset, table, columns, start, count)
        response: dict = {"kind": "bigquery#tableDataList", "totalRows": str(total)}
        rows = result.page(0, count, _flag(query, "formatOptions.useInt64Timestamp"))
        if rows:
            response["rows"] = rows
        if count and start + count < total:
            response["pageToken"] = _page_token(start + count)
        return _select(response, query.get("fields"))

    def _read_table(
        self, project: str, dataset: str, table: str, columns: str, start: int, count: int
    ) -> tuple[QueryResult, int]:
        """Rows [start, start + count) of dataset.table, and its row count."""
        with self._connect() as connection:
            _check_tables(connection, [(project, dataset, table)], self.project, "US")
            name = f"{_quote(dataset)}.{_quote(table)}"
            selected = ", ".join(_quote(c.strip()) for c in columns.split(",") if c.strip())
            try:
                relation = connection.sql(
                    f"SELECT {selected or '*'} FROM {name} LIMIT {count} OFFSET {start}"
                )
                columns = fields(relation)
                arrow = relation.to_arrow_table()
                (total,) = connection.execute(f"SELECT COUNT(*) FROM {name}").fetchone()
            except (_duckdb_error(), Unrepresentable) as exc:
                raise ApiError(400, "invalid", str(exc)) from None
        return QueryResult(columns, microseconds(arrow)), total

    # running a query

    def _run(self, job: Job) -> None:
        try:
            result, error = self._execute(job), None
        except ApiError as exc:
            result, error = None, exc
        except Exception as exc:  # a bug here must fail the job, not hang its client
            log.exception("BigQuery emulator failed on job %s", job.reference["jobId"])
            result, error = None, _failed(exc)
        with self._lock:
            job.connection = None
            job.finish(result, error)

    def _execute(self, job: Job, dry_run: bool = False) -> QueryResult:
        import duckdb

        try:
            local_sql = to_duckdb(job.sql)
        except InputError as exc:
            raise invalid_query(str(exc).split("\nQuery:\n", 1)[0]) from None
        query_config = job.resource["configuration"]["query"]
        default_dataset = (query_config.get("defaultDataset") or {}).get("datasetId", "")
        with self._connect() as connection:
            _check_tables(
                connection,
                _table_references(job.sql, default_dataset),
                self.project,
                job.reference["location"],
            )
            with self._lock:
                if job.cancelled:
                    raise _cancelled()
                job.connection = connection
            try:
                if default_dataset:
                    connection.execute("SET schema = " + _quote(default_dataset, "'"))
                relation = connection.sql(local_sql, params=parameters(query_config))
                kinds = relation.types
                columns = fields(relation)
                table = relation.limit(0).to_arrow_table() if dry_run else relation.to_arrow_table()
            except duckdb.InterruptException:
                raise _cancelled() from None
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

    def _connect(self):
        import duckdb

        if not self.database.is_file():
            raise ApiError(404, "notFound", f"The emulator's warehouse {self.database} is missing.")
        try:
            connection = duckdb.connect(
                str(self.database), read_only=True, config={"autoinstall_known_extensions": False}
            )
        except duckdb.Error as exc:
            raise ApiError(
                400, "invalid", f"The emulator's warehouse cannot be opened: {exc}"
            ) from None
        connection.execute("SET TimeZone = 'UTC'")
        return connection

    def _interrupt(self, job: Job, wait_s: float = 5.0) -> None:
        """Stop the job's query, interrupting again until it stops (DuckDB ignores an
        interrupt that comes while the query is being planned)."""
        deadline = time.monotonic() + wait_s
        while not job.done.is_set():
            with self._lock:
                job.cancelled = True
                if job.connection is not None:
                    try:
                        job.connection.interrupt()
                    except _duckdb_error():  # closed: the query has just ended by itself
                        pass
            if job.done.wait(0.05) or time.monotonic() > deadline:
                return

    def _job(self, project: str, job_id: str, location: str) -> Job:
        with self._lock:
            job = self._jobs.get((project, job_id))
        if job is None or (location and location.lower() != job.reference["location"].lower()):
            where = location or "US"
            raise ApiError(404, "notFound", f"Not found: Job {project}:{where}.{job_id}")
        return job


def _check_configuration(configuration: dict) -> str:
    """The SQL of a query job configuration; ApiError for what the emulator does not run."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError, TokenError

    other = [kind for kind in ("load", "copy", "extract") if kind in configuration]
    if other or "query" not in configuration:
        raise unsupported(f"a {(other or ['non-query'])[0]} job")
    query = configuration["query"]
    if query.get("useLegacySql", True):
        raise unsupported("legacy SQL (set useLegacySql to false: the default is legacy SQL)")
    for option in ("destinationTable", "tableDefinitions", "scriptOptions", "createSession"):
        if query.get(option):
            raise unsupported(f"configuration.query.{option}")
    sql = query.get("query") or ""
    if not sql.strip():
        raise ApiError(400, "invalid", "Required parameter is missing: query")
    try:
        statements = [s for s in sqlglot.parse(sql, read="bigquery") if s is not None]
    except (ParseError, TokenError):
        return sql  # the job fails with the parser's message
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        kinds = ", ".join(type(s).__name__.upper() for s in statements)
        raise unsupported(f"{kinds} (DML, DDL and multi-statement scripts)")
    return sql


def _table_references(sql: str, default_dataset: str) -> list[tuple[str, str, str]]:
    """(project, dataset, table) of each table the query reads, CTEs excluded."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="bigquery")
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    references = []
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue  # a table function
        if not table.db:
            if table.name.lower() in ctes:
                continue
            if not default_dataset:
                raise invalid_query(
                    f'Table "{table.name}" must be qualified with a dataset (e.g. dataset.table).'
                )
        references.append((table.catalog, table.db or default_dataset, table.name))
    return references


def _check_tables(connection, references: list, project: str, location: str) -> None:
    """notFound, named as BigQuery names it, for the first dataset or table that is missing."""
    schemas = {
        s.lower() for (s,) in connection.sql("SELECT schema_name FROM duckdb_schemas()").fetchall()
    }
    tables = {
        (s.lower(), t.lower())
        for s, t in connection.sql(
            "SELECT table_schema, table_name FROM information_schema.tables"
        ).fetchall()
    }
    for table_project, dataset, table in references:
        where = f"{table_project or project}:{dataset}"
        if dataset.lower() == "information_schema":
            continue
        if dataset.lower() not in schemas:
            raise ApiError(
                404, "notFound", f"Not found: Dataset {where} was not found in location {location}"
            )
        if (dataset.lower(), table.lower()) not in tables:
            raise ApiError(
                404,
                "notFound",
                f"Not found: Table {where}.{table} was not found in location {location}",
            )


def _page_start(query: dict, total: int | None) -> int:
    if "pageToken" in query:
        try:
            start = int(base64.urlsafe_b64decode(query["pageToken"].encode()).decode())
        except ValueError:
            raise ApiError(400, "invalid", f"Invalid page token: {query['pageToken']!r}") from None
    else:
        start = _number(query, "startIndex", 0)
    if start < 0 or (total is not None and start > total):
        raise ApiError(400, "invalid", f"Invalid startIndex {start}: the result has {total} rows")
    return start


def _number(query: dict, name: str, default: int | float) -> int:
    try:
        return int(query.get(name, default))
    except ValueError:
        raise ApiError(400, "invalid", f"Invalid value for {name}: {query[name]!r}") from None


def _flag(query: dict, name: str) -> bool:
    return str(query.get(name, "")).lower() in ("true", "1")


def _quote(name: str, quote: str = '"') -> str:
    """A DuckDB identifier (or, with quote="'", string literal)."""
    return quote + name.replace(quote, quote * 2) + quote


def _page_token(start: int) -> str:
    return base64.urlsafe_b64encode(str(start).encode()).decode()


def _select(response: dict, fields: str | None) -> dict:
    """A partial response with the top-level keys named in `fields` (e.g. "rows,pageToken")."""
    if not fields:
        return response
    wanted = {re.split(r"[/(]", name.strip(), maxsplit=1)[0] for name in fields.split(",")}
    return {key: value for key, value in response.items() if key in wanted}


def _failed(exc: Exception) -> ApiError:
    """A bug of the emulator, as a 400 (BigQuery clients retry 5xx for minutes)."""
    return ApiError(400, "invalid", f"The BigQuery emulator failed: {type(exc).__name__}: {exc}")


def _cancelled() -> ApiError:
    return ApiError(400, "stopped", "Job execution was cancelled: User requested cancellation")


def _duckdb_error() -> type[Exception]:
    import duckdb

    return duckdb.Error


def _now_ms() -> str:
    return str(int(time.time() * 1000))
