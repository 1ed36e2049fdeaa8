"""The real google-cloud-bigquery client against the BigQuery emulator on a DuckDB warehouse.

Nothing is mocked: the emulator's `handle` is mounted on a loopback HTTP server
(a few lines here stand in for the emulator's REST server) and the unmodified
client (3.47, anonymous credentials, api_endpoint) sends its own requests. The
warehouse is the demo's DuckDB file plus a small table of every supported type.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlparse

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from google.api_core import exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from pipelines.emulator.bigquery import BigQueryEmulator
from pipelines.timeseries.demo import DEMO_QUERY
from tests.fakes.loopback import serving_on_loopback
from trainer.data.query_engines import ENDPOINT_VARIABLE, DuckDBEngine, engine_for
from trainer.timeseries.demo_data import write_demo_database
from trainer.timeseries.ingest import DATA, ingest_query, read_manifest

pytestmark = pytest.mark.timeout(60)

PROJECT = "mlops-demo"
PAGE_ROWS = 500  # the demo query's 1,461 rows come in 3 pages
UTC = dt.UTC
TYPED = """CREATE TABLE sample.typed AS SELECT * FROM (VALUES
  (1, -4611686018427387904, 2.5, 1.250000001::DECIMAL(38, 9), 'é', true, DATE '2024-02-29',
   TIMESTAMP '2024-02-29 12:34:56.789012', TIMESTAMPTZ '2024-02-29 12:34:56.000001+00',
   TIME '23:59:59.5', '\\x00\\xff'::BLOB, [1, 2], {'a': 7, 'b': 'x'}),
  (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (3, 0, 'NaN'::DOUBLE, -0.000000001::DECIMAL(38, 9), '', false, DATE '1969-12-31',
   TIMESTAMP '1969-12-31 23:59:59', TIMESTAMPTZ '1969-12-31 23:59:59.999999+00',
   TIME '00:00:00', ''::BLOB, [], {'a': NULL, 'b': NULL})
) AS t(id, big, f, num, s, flag, day, local_time, ts, tod, raw, ints, rec)"""
TYPED_ROWS = [
    {
        "id": 1,
        "big": -(2**62),
        "f": 2.5,
        "num": decimal.Decimal("1.250000001"),
        "s": "é",
        "flag": True,
        "day": dt.date(2024, 2, 29),
        "local_time": dt.datetime(2024, 2, 29, 12, 34, 56, 789012),
        "ts": dt.datetime(2024, 2, 29, 12, 34, 56, 1, tzinfo=UTC),
        "tod": dt.time(23, 59, 59, 500000),
        "raw": b"\x00\xff",
        "ints": [1, 2],
        "rec": {"a": 7, "b": "x"},
    },
    {
        "id": 2,
        **dict.fromkeys(
            ["big", "f", "num", "s", "flag", "day", "local_time", "ts", "tod", "raw", "rec"]
        ),
        "ints": [],  # BigQuery returns a NULL array as an empty one
    },
    {
        "id": 3,
        "big": 0,
        "f": float("nan"),
        "num": decimal.Decimal("-0.000000001"),
        "s": "",
        "flag": False,
        "day": dt.date(1969, 12, 31),
        "local_time": dt.datetime(1969, 12, 31, 23, 59, 59),
        "ts": dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        "tod": dt.time(0, 0),
        "raw": b"",
        "ints": [],
        "rec": {"a": None, "b": None},
    },
]
SLOW = (
    "SELECT COUNT(*) AS n FROM UNNEST(GENERATE_ARRAY(1, 300000)) AS a "
    "CROSS JOIN UNNEST(GENERATE_ARRAY(1, 300000)) AS b WHERE a + b = 7"
)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    path = write_demo_database(tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb")
    with duckdb.connect(str(path)) as connection:
        connection.execute("CREATE SCHEMA sample")
        connection.execute(TYPED)
    return path


@contextlib.contextmanager
def serving(emulator: BigQueryEmulator) -> Iterator[str]:
    """`emulator.handle` behind a loopback HTTP server, as the emulator's REST server mounts it."""

    class Handler(BaseHTTPRequestHandler):
        timeout = 10

        def log_message(self, *args) -> None:
            pass

        def _serve(self) -> None:
            url = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            answer = emulator.handle(self.command, url.path, query, self.headers, body)
            status, headers, data = answer or (404, {}, b"")
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve

    with serving_on_loopback(Handler) as url:
        try:
            yield url
        finally:
            emulator.close()


@pytest.fixture(scope="module")
def served(warehouse):
    emulator = BigQueryEmulator(warehouse, PROJECT, page_rows=PAGE_ROWS)
    with serving(emulator) as url:
        yield emulator, url


@pytest.fixture
def emulator(served) -> BigQueryEmulator:
    emulator, _ = served
    emulator.requests.clear()
    return emulator


@pytest.fixture
def client(served, emulator) -> bigquery.Client:
    return bigquery.Client(
        project="pipeline-project",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": served[1]},
    )


def to_arrow(rows) -> pa.Table:
    return rows.to_arrow(create_bqstorage_client=False)


def calls(emulator: BigQueryEmulator, method: str, suffix: str) -> list:
    return [r for r in emulator.requests if r.method == method and r.path.endswith(suffix)]


def test_demo_query_gives_the_rows_and_types_of_the_duckdb_engine(client, emulator, warehouse):
    job = client.query(DEMO_QUERY)
    table = to_arrow(job.result())
    local, _ = DuckDBEngine(warehouse).run(DEMO_QUERY)

    assert table.equals(local)  # same column types (date32, double) and values, in order
    assert table.num_rows == 1461
    assert [(f.name, f.field_type) for f in job.result().schema] == [
        ("date", "DATE"),
        ("temp_max", "FLOAT"),
        ("temp_min", "FLOAT"),
        ("precipitation", "FLOAT"),
    ]
    (insert,) = calls(emulator, "POST", "/projects/pipeline-project/jobs")
    assert insert.body["configuration"]["query"]["query"] == DEMO_QUERY
    pages = [r for r in calls(emulator, "GET", f"/queries/{job.job_id}") if "fields" in r.query]
    assert [p.query.get("pageToken") is None for p in pages] == [True, False, False]
    assert job.state == "DONE" and job.error_result is None


def test_job_reports_running_then_done(client, emulator):
    job = client.query(SLOW)
    answer = json.loads(
        emulator.handle(
            "GET", f"/bigquery/v2/projects/pipeline-project/jobs/{job.job_id}", {}, {}, b""
        )[2]
    )
    assert answer["status"] == {"state": "RUNNING"}
    assert job.state == "RUNNING"  # as jobs.insert answered
    status, _, body = emulator.handle(
        "GET",
        f"/bigquery/v2/projects/pipeline-project/queries/{job.job_id}",
        {"timeoutMs": "50"},
        {},
        b"",
    )
    assert status == 200 and json.loads(body)["jobComplete"] is False

    assert job.cancel()
    job.reload()
    assert job.state == "DONE"
    assert job.error_result["reason"] == "stopped"
    with pytest.raises(exceptions.GoogleAPICallError, match="cancelled"):
        job.result()


def test_pages_follow_the_page_size(client, emulator):
    sql = "SELECT date FROM `mlops-demo.weather.seattle_daily` ORDER BY date LIMIT 23"
    rows = client.query(sql).result(page_size=5)
    sizes = [page.num_items for page in rows.pages]
    assert sizes == [5, 5, 5, 5, 3]
    pages = [r for r in calls(emulator, "GET", "") if "fields" in r.query]
    assert all(p.query["maxResults"] == "5" for p in pages)
    assert len(pages) == 4  # the first page came with the response that waited for the job


def test_every_type_and_null_round_trips(client):
    job = client.query("SELECT * FROM sample.typed ORDER BY id")
    table = to_arrow(job.result())

    types = {f.name: (f.field_type, f.mode) for f in job.result().schema}
    assert types == {
        "id": ("INTEGER", "NULLABLE"),
        "big": ("INTEGER", "NULLABLE"),
        "f": ("FLOAT", "NULLABLE"),
        "num": ("NUMERIC", "NULLABLE"),
        "s": ("STRING", "NULLABLE"),
        "flag": ("BOOLEAN", "NULLABLE"),
        "day": ("DATE", "NULLABLE"),
        "local_time": ("DATETIME", "NULLABLE"),
        "ts": ("TIMESTAMP", "NULLABLE"),
        "tod": ("TIME", "NULLABLE"),
        "raw": ("BYTES", "NULLABLE"),
        "ints": ("INTEGER", "REPEATED"),
        "rec": ("RECORD", "NULLABLE"),
    }
    assert table.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("local_time").type == pa.timestamp("us")
    assert table.schema.field("num").type == pa.decimal128(38, 9)
    got = table.to_pylist()
    nan = got[2].pop("f")
    assert nan != nan
    assert got == [
        TYPED_ROWS[0],
        TYPED_ROWS[1],
        {k: v for k, v in TYPED_ROWS[2].items() if k != "f"},
    ]


def test_integer_sums_are_int64_as_on_bigquery(client):
    sql = "SELECT COUNT(*) AS n, SUM(big) AS total FROM sample.typed"
    rows = client.query(sql).result()
    assert [f.field_type for f in rows.schema] == ["INTEGER", "INTEGER"]  # DuckDB: HUGEINT
    assert [tuple(r.values()) for r in rows] == [(3, -(2**62))]


def test_query_and_wait_uses_jobs_query(client, emulator):
    rows = client.query_and_wait(
        "SELECT @n + 1 AS next, @day AS day",
        job_config=bigquery.QueryJobConfig(
            query_parameters=[
                bigquery.ScalarQueryParameter("n", "INT64", 41),
                bigquery.ScalarQueryParameter("day", "DATE", dt.date(2024, 1, 2)),
            ]
        ),
    )
    assert [tuple(r.values()) for r in rows] == [(42, dt.date(2024, 1, 2))]
    (request,) = calls(emulator, "POST", "/projects/pipeline-project/queries")
    assert request.body["queryParameters"][0]["parameterValue"] == {"value": "41"}
    assert not calls(emulator, "POST", "/jobs")


def test_dry_run_gives_the_schema_without_rows(client, emulator):
    config = bigquery.QueryJobConfig(dry_run=True)
    job = client.query("SELECT date, weather FROM weather.seattle_daily", job_config=config)
    assert job.state == "DONE"
    assert [(f.name, f.field_type) for f in job.schema] == [("date", "DATE"), ("weather", "STRING")]


def test_bad_sql_is_a_bad_request_with_the_engines_message(client):
    with pytest.raises(exceptions.BadRequest) as caught:
        client.query("SELECT date FROM weather.seattle_daily WHERE").result()
    assert "Syntax error in the BigQuery SQL query" in caught.value.message
    assert caught.value.errors[0]["reason"] == "invalidQuery"

    with pytest.raises(exceptions.BadRequest, match='Referenced column "nope" not found'):
        client.query("SELECT nope FROM weather.seattle_daily").result()
    with pytest.raises(exceptions.BadRequest, match="must be qualified with a dataset"):
        client.query("SELECT * FROM seattle_daily").result()


def test_missing_table_or_dataset_is_not_found_naming_it(client):
    with pytest.raises(exceptions.NotFound) as caught:
        client.query("SELECT * FROM `mlops-demo.weather.hourly`").result()
    assert "Not found: Table mlops-demo:weather.hourly was not found in location US" in str(
        caught.value
    )
    assert caught.value.errors[0]["reason"] == "notFound"
    with pytest.raises(exceptions.NotFound, match="Dataset mlops-demo:climate was not found"):
        client.query("WITH t AS (SELECT 1 AS x) SELECT * FROM t, climate.daily").result()


@pytest.mark.parametrize(
    ("sql", "config", "said"),
    [
        ("DELETE FROM weather.seattle_daily WHERE TRUE", None, "DELETE"),
        ("SELECT 1", bigquery.QueryJobConfig(use_legacy_sql=True), "legacy SQL"),
        (
            "SELECT 1",
            bigquery.QueryJobConfig(destination="mlops-demo.weather.copy"),
            "destinationTable",
        ),
    ],
)
def test_unsupported_requests_are_refused_saying_what_is_served(client, sql, config, said):
    with pytest.raises(exceptions.BadRequest) as caught:
        client.query(sql, job_config=config)
    assert said in caught.value.message
    assert "runs read-only GoogleSQL queries" in caught.value.message


def test_other_job_types_and_paths_are_refused(client, emulator):
    with pytest.raises(exceptions.BadRequest, match="a load job is not supported"):
        client.load_table_from_uri("gs://bucket/x.csv", "mlops-demo.weather.new")
    with pytest.raises(exceptions.BadRequest, match="GET projects/pipeline-project/datasets"):
        client.list_datasets().__next__()
    assert emulator.handle("GET", "/v1/projects/p/locations", {}, {}, b"") is None
    status, headers, body = emulator.handle("POST", "/bigquery/v2/projects/p/jobs", {}, {}, b"{")
    assert status == 400 and json.loads(body)["error"]["errors"][0]["reason"] == "parseError"
    assert headers["Content-Type"].startswith("application/json")


def test_tables_and_their_rows_are_listed(client, warehouse):
    table = client.get_table("mlops-demo.weather.seattle_daily")
    assert table.num_rows == 1461
    assert [f.field_type for f in table.schema] == [
        "DATE",
        "FLOAT",
        "FLOAT",
        "FLOAT",
        "FLOAT",
        "STRING",
    ]
    rows = to_arrow(client.list_rows(table, start_index=1459, max_results=5))
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        expected = connection.sql("SELECT * FROM weather.seattle_daily").to_arrow_table()
    assert rows.to_pylist() == expected.slice(1459).to_pylist()
    with pytest.raises(exceptions.NotFound, match=r"Table pipeline-project:weather\.nope"):
        client.get_table("pipeline-project.weather.nope")


def test_concurrent_queries_each_get_their_own_rows(client):
    results: dict[int, list] = {}

    def run(year: int) -> None:
        sql = (
            "SELECT EXTRACT(YEAR FROM date) AS year, COUNT(*) AS days "
            f"FROM weather.seattle_daily WHERE EXTRACT(YEAR FROM date) = {year} GROUP BY year"
        )
        results[year] = [tuple(r.values()) for r in client.query(sql).result()]

    threads = [threading.Thread(target=run, args=(year,)) for year in range(2012, 2016)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == {y: [(y, 366 if y == 2012 else 365)] for y in range(2012, 2016)}


def test_ingest_step_through_the_endpoint_variable_writes_the_duckdb_parquet(
    served, emulator, warehouse, tmp_path, monkeypatch
):
    monkeypatch.setenv(ENDPOINT_VARIABLE, served[1])
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "no-such-key.json"))
    engine = engine_for("", PROJECT)
    manifest = ingest_query(DEMO_QUERY, tmp_path / "bigquery", engine)
    ingest_query(DEMO_QUERY, tmp_path / "duckdb", DuckDBEngine(warehouse))

    assert manifest["engine"] == "bigquery" and manifest["row_count"] == 1461
    assert manifest == read_manifest(tmp_path / "bigquery")
    assert pq.read_table(tmp_path / "bigquery" / DATA).equals(
        pq.read_table(tmp_path / "duckdb" / DATA)
    )
    (insert,) = calls(emulator, "POST", f"/projects/{PROJECT}/jobs")
    assert insert.body["configuration"]["query"]["query"] == DEMO_QUERY


def test_ingest_step_reports_a_missing_table_as_an_input_error(served, tmp_path, monkeypatch):
    from serving.contracts.errors import InputError

    monkeypatch.setenv(ENDPOINT_VARIABLE, served[1])
    with pytest.raises(InputError) as caught:
        ingest_query("mlops-demo.weather.hourly", tmp_path / "ds", engine_for("", PROJECT))
    assert "(404 NotFound)" in str(caught.value)
    assert "notFound: Not found: Table mlops-demo:weather.hourly" in str(caught.value)
    assert not (tmp_path / "ds").exists()


def call(emulator: BigQueryEmulator, method: str, path: str, query=None, body=None) -> tuple:
    data = json.dumps(body).encode() if body is not None else b""
    status, _, answer = emulator.handle(method, f"/bigquery/v2/{path}", query or {}, {}, data)
    return status, json.loads(answer)


def test_jobs_are_looked_up_as_bigquery_does(emulator):
    job = {
        "jobReference": {"jobId": "fixed-id", "location": "EU"},
        "configuration": {
            "query": {"query": "SELECT ts FROM sample.typed ORDER BY id", "useLegacySql": False}
        },
    }
    status, inserted = call(emulator, "POST", "projects/p/jobs", body=job)
    assert status == 200 and inserted["status"] == {"state": "RUNNING"}
    assert inserted["jobReference"] == {"projectId": "p", "jobId": "fixed-id", "location": "EU"}
    status, again = call(emulator, "POST", "projects/p/jobs", body=job)
    assert status == 409 and again["error"]["errors"][0]["reason"] == "duplicate"

    status, results = call(emulator, "GET", "projects/p/queries/fixed-id", {"location": "EU"})
    assert status == 200 and results["totalRows"] == "3"
    # Without formatOptions.useInt64Timestamp, TIMESTAMP cells are seconds.
    assert [row["f"][0]["v"] for row in results["rows"]] == [
        "1709210096.000001",
        None,
        "-0.000001",
    ]
    assert call(emulator, "GET", "projects/p/jobs/fixed-id", {"location": "US"})[0] == 404
    assert call(emulator, "GET", "projects/other/jobs/fixed-id")[0] == 404
    status, error = call(emulator, "GET", "projects/p/queries/fixed-id", {"pageToken": "@@"})
    assert status == 400 and "Invalid page token" in error["error"]["message"]
    status, page = call(
        emulator, "GET", "projects/p/queries/fixed-id", {"maxResults": "1", "startIndex": "2"}
    )
    assert [row["f"][0]["v"] for row in page["rows"]] == ["-0.000001"] and "pageToken" not in page
