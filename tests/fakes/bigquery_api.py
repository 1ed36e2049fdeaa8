"""A loopback stand-in for the BigQuery REST API (v2), for the real google-cloud-bigquery client.

It scripts what the emulator's BigQuery (pipelines/emulator/bigquery/, which
runs real queries on DuckDB) cannot: fixed rows, slow jobs, permission and
quota errors. The tests run the real client against this server on
127.0.0.1. It answers exactly the requests that
google-cloud-bigquery 3.47 makes for `client.query(sql).result().to_arrow()`
(read from its source: client.query -> _job_helpers.query_jobs_insert,
QueryJob.result, Client._get_query_results, _list_rows_from_query_results):

- POST /bigquery/v2/projects/{p}/jobs          jobs.insert: the job, RUNNING
- GET  /bigquery/v2/projects/{p}/jobs/{id}      jobs.get: RUNNING until the query has been
                                                polled `polls_before_done` times, then DONE
- GET  /bigquery/v2/projects/{p}/queries/{id}   jobs.getQueryResults: `jobComplete: false`
                                                while running; then schema, totalRows and
                                                rows as {"f": [{"v": ...}]}, paged with
                                                pageToken (maxResults=0 returns no rows;
                                                `fields` selects the keys returned)

Results come from these pages; with create_bqstorage_client=False this client
version does not call tabledata.list for query results, so it is not served.
Values are encoded as BigQuery does: every scalar a string, NULL as null,
TIMESTAMP as int64 microseconds when the client asks for
formatOptions.useInt64Timestamp (it does for every page of rows), else float seconds.

A query containing `fail_marker` fails with BigQuery's error JSON (by default
HTTP 400, reason invalidQuery; `fail_status` and `fail_reason` change it).
BigQuery reports some errors when the job is inserted and others as a failed
job, so both are served: `fail_at="insert"` refuses jobs.insert;
`fail_at="job"` accepts it, then jobs.get reports status.errorResult and
getQueryResults answers with the error.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import itertools
import json
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.fakes.loopback import serving_on_loopback

_ROUTE = re.compile(r"^/bigquery/v2/projects/([^/]+)/(jobs|queries)(?:/([^/]+))?$")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass
class FakeBigQueryApi:
    """State of the stand-in; tests set the result and the knobs, and read `requests`."""

    url: str = ""
    # What every successful query returns: BigQuery schema fields ({"name", "type",
    # "mode"}) and rows of Python values (int, float, str, bool, datetime, date, None).
    schema: list[dict] = field(default_factory=list)
    rows: list[Sequence[Any]] = field(default_factory=list)
    page_size: int = 1000  # rows per getQueryResults page (maxResults lowers it)
    polls_before_done: int = 1  # getQueryResults calls answered jobComplete: false
    fail_marker: str = "FAIL_HERE"
    fail_message: str = 'Syntax error: Unexpected identifier "FAIL_HERE" at [1:8]'
    fail_at: str = "insert"  # or "job"
    fail_status: int = 400
    fail_reason: str = "invalidQuery"  # e.g. "notFound" with fail_status 404
    requests: list[Recorded] = field(default_factory=list)
    jobs: dict[str, dict] = field(default_factory=dict)  # job id -> job resource
    polls: dict[str, int] = field(default_factory=dict)  # job id -> getQueryResults calls
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def calls(self, method: str, pattern: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and re.search(pattern, r.path)]

    def queries_sent(self) -> list[str]:
        """The SQL of every jobs.insert request, in order."""
        return [r.body["configuration"]["query"]["query"] for r in self.calls("POST", r"/jobs$")]


@contextlib.contextmanager
def running_fake_bigquery_api(**settings) -> Iterator[FakeBigQueryApi]:
    """Serve a FakeBigQueryApi(**settings) on 127.0.0.1 (a free port) for the block."""
    api = FakeBigQueryApi(**settings)
    with serving_on_loopback(_handler(api)) as url:
        api.url = url
        yield api


def _handler(api: FakeBigQueryApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = 10  # a client that stops sending does not hang a test

        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, method: str) -> None:
            parsed = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.loads(raw) if raw else None
            with api.lock:
                api.requests.append(Recorded(method, parsed.path, query, body))
                status, payload = _route(api, method, parsed.path, query, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _route(api: FakeBigQueryApi, method: str, path: str, query: dict, body) -> tuple[int, dict]:
    match = _ROUTE.match(path)
    if not match:
        return 404, _error(404, "notFound", f"Not found: {method} {path}")
    project, collection, job_id = match.groups()
    if collection == "jobs" and method == "POST" and job_id is None:
        return _insert_job(api, project, body)
    if job_id not in api.jobs:
        return 404, _error(404, "notFound", f"Not found: Job {project}:{job_id}")
    job = api.jobs[job_id]
    if collection == "jobs" and method == "GET":
        return 200, _job_state(api, job)
    if collection == "queries" and method == "GET":
        return _query_results(api, job, query)
    return 404, _error(404, "notFound", f"Not found: {method} {path}")


def _insert_job(api: FakeBigQueryApi, project: str, body: dict) -> tuple[int, dict]:
    sql = body["configuration"]["query"]["query"]
    failing = api.fail_marker in sql
    if failing and api.fail_at == "insert":
        return api.fail_status, _error(api.fail_status, api.fail_reason, api.fail_message, "q")
    reference = dict(body.get("jobReference") or {})
    reference.setdefault("jobId", f"job_{next(api._ids)}")
    reference.update(projectId=project, location=reference.get("location") or "US")
    now = str(int(dt.datetime.now(dt.UTC).timestamp() * 1000))
    configuration = json.loads(json.dumps(body["configuration"]))
    configuration["query"]["destinationTable"] = {
        "projectId": project,
        "datasetId": "_anonymous",
        "tableId": f"anon_{reference['jobId']}",
    }
    job = {
        "kind": "bigquery#job",
        "id": f"{project}:{reference['location']}.{reference['jobId']}",
        "jobReference": reference,
        "configuration": configuration,
        "status": {"state": "RUNNING"},
        "statistics": {"creationTime": now, "startTime": now},
        "_failing": failing,
    }
    api.jobs[reference["jobId"]] = job
    api.polls[reference["jobId"]] = 0
    return 200, _public(job)


def _job_state(api: FakeBigQueryApi, job: dict) -> dict:
    job_id = job["jobReference"]["jobId"]
    if job["_failing"]:
        error = {"reason": api.fail_reason, "location": "query", "message": api.fail_message}
        job["status"] = {"state": "DONE", "errorResult": error, "errors": [error]}
    elif api.polls[job_id] >= api.polls_before_done:
        job["status"] = {"state": "DONE"}
        job["statistics"].setdefault("endTime", job["statistics"]["startTime"])
        job["statistics"]["query"] = {"totalBytesProcessed": "0", "cacheHit": False}
    return _public(job)


def _query_results(api: FakeBigQueryApi, job: dict, query: dict) -> tuple[int, dict]:
    job_id = job["jobReference"]["jobId"]
    if job["_failing"]:
        return api.fail_status, _error(api.fail_status, api.fail_reason, api.fail_message, "query")
    reference = job["jobReference"]
    if api.polls[job_id] < api.polls_before_done:
        api.polls[job_id] += 1
        return 200, {
            "kind": "bigquery#getQueryResultsResponse",
            "jobReference": reference,
            "jobComplete": False,
        }
    api.polls[job_id] += 1
    start = int(query.get("startIndex", 0))
    if "pageToken" in query:
        start = int(base64.urlsafe_b64decode(query["pageToken"]).decode())
    limit = int(query.get("maxResults", api.page_size))
    limit = api.page_size if limit < 0 else min(limit, api.page_size)
    int64_timestamps = query.get("formatOptions.useInt64Timestamp", "").lower() in ("true", "1")
    page = api.rows[start : start + limit]
    response = {
        "kind": "bigquery#getQueryResultsResponse",
        "jobReference": reference,
        "jobComplete": True,
        "schema": {"fields": api.schema},
        "totalRows": str(len(api.rows)),
        "totalBytesProcessed": "0",
        "cacheHit": False,
    }
    if page:
        response["rows"] = [
            {
                "f": [
                    {"v": _encode(v, f, int64_timestamps)}
                    for v, f in zip(row, api.schema, strict=True)
                ]
            }
            for row in page
        ]
    if limit and start + limit < len(api.rows):
        response["pageToken"] = base64.urlsafe_b64encode(str(start + limit).encode()).decode()
    if "fields" in query:  # a partial response, as the API gives one
        wanted = query["fields"].split(",")
        response = {k: v for k, v in response.items() if k in wanted}
    return 200, response


def _encode(value: Any, field_: dict, int64_timestamps: bool) -> str | None:
    """One cell as BigQuery's JSON carries it."""
    if value is None:
        return None
    kind = field_["type"].upper()
    if kind in ("BOOLEAN", "BOOL"):
        return "true" if value else "false"
    if kind in ("FLOAT", "FLOAT64"):
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(float(value))
    if kind == "TIMESTAMP":
        micros = (value - _EPOCH) // dt.timedelta(microseconds=1)
        return str(micros) if int64_timestamps else f"{micros / 1e6:.6E}"
    if kind in ("DATE", "DATETIME", "TIME"):
        return value.isoformat()
    return str(value)


def _public(job: dict) -> dict:
    return {k: v for k, v in job.items() if not k.startswith("_")}


def _error(status: int, reason: str, message: str, location: str = "") -> dict:
    detail = {"message": message, "domain": "global", "reason": reason}
    if location:
        detail.update(location=location, locationType="parameter")
    names = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}
    return {
        "error": {
            "code": status,
            "message": message,
            "errors": [detail],
            "status": names.get(status, "UNKNOWN"),
        }
    }
