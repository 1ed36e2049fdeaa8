"""BigQueryEmulator: the BigQuery REST API's routes and methods, on the DuckDB warehouse.

Jobs run in worker threads; one lock guards the jobs, the requests recorded and
each job's state (its connection, cancellation and resource).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from pipelines.emulator.bigquery.checks import check_configuration
from pipelines.emulator.bigquery.errors import ApiError, cancelled, failed, unsupported
from pipelines.emulator.bigquery.jobs import Job, QueryResult, now_ms
from pipelines.emulator.bigquery.paging import (
    flag,
    number,
    page_count,
    page_start,
    page_token,
    partial_response,
)
from pipelines.emulator.bigquery.warehouse import Warehouse, duckdb_error

log = logging.getLogger(__name__)

PREFIXES = ("/bigquery/v2/", "/upload/bigquery/v2/")
JSON_HEADERS = {"Content-Type": "application/json; charset=UTF-8"}
DEFAULT_WAIT_S = 10.0  # how long getQueryResults / jobs.query wait without timeoutMs
MAX_WAIT_S = 60.0
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
        self._warehouse = Warehouse(self.database, project)

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
            error = failed(exc)
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
        sql = check_configuration(configuration)
        now = now_ms()
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
        wait = number(query, "timeoutMs", DEFAULT_WAIT_S * 1000) / 1000
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
        start = page_start(query, total)
        count = page_count(query, self.page_rows)
        int64_timestamps = flag(query, "formatOptions.useInt64Timestamp")
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
            response["pageToken"] = page_token(start + count)
        return partial_response(response, query.get("fields"))

    # tables.get, tabledata.list

    def _get_table(self, project: str, dataset: str, table: str, query: dict, body: dict) -> dict:
        result, total = self._warehouse.read_table(project, dataset, table, "", 0, 0)
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
        start = page_start(query, None)
        count = page_count(query, self.page_rows)
        columns = query.get("selectedFields", "")
        result, total = self._warehouse.read_table(project, dataset, table, columns, start, count)
        response: dict = {"kind": "bigquery#tableDataList", "totalRows": str(total)}
        rows = result.page(0, count, flag(query, "formatOptions.useInt64Timestamp"))
        if rows:
            response["rows"] = rows
        if count and start + count < total:
            response["pageToken"] = page_token(start + count)
        return partial_response(response, query.get("fields"))

    # running a query

    def _run(self, job: Job) -> None:
        try:
            result, error = self._execute(job), None
        except ApiError as exc:
            result, error = None, exc
        except Exception as exc:  # a bug here must fail the job, not hang its client
            log.exception("BigQuery emulator failed on job %s", job.reference["jobId"])
            result, error = None, failed(exc)
        with self._lock:
            job.connection = None
            job.finish(result, error)

    def _execute(self, job: Job, dry_run: bool = False) -> QueryResult:
        return self._warehouse.run(job, lambda connection: self._attach(job, connection), dry_run)

    def _attach(self, job: Job, connection: Any) -> None:
        """Keep the connection of the job's query, to interrupt it; a cancelled job stops here."""
        with self._lock:
            if job.cancelled:
                raise cancelled()
            job.connection = connection

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
                    except duckdb_error():  # closed: the query has just ended by itself
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
