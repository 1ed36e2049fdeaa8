"""Queries, their results and table reads: the real google-cloud-bigquery client on the emulator.

Nothing is mocked: the unmodified client sends its own requests to the BigQuery
emulator served on loopback over the test warehouse (bigquery_loopback.py).
"""

from __future__ import annotations

import datetime as dt
import json
import threading

import duckdb
import pyarrow as pa
import pytest
from google.api_core import exceptions
from google.cloud import bigquery

from pipelines.timeseries.demo import DEMO_QUERY
from tests.pipelines.emulator.bigquery_loopback import TYPED_ROWS, call, calls, to_arrow
from trainer.data.query_engines import DuckDBEngine

pytestmark = pytest.mark.timeout(60)

SLOW = (
    "SELECT COUNT(*) AS n FROM UNNEST(GENERATE_ARRAY(1, 300000)) AS a "
    "CROSS JOIN UNNEST(GENERATE_ARRAY(1, 300000)) AS b WHERE a + b = 7"
)


def test_demo_query_gives_the_rows_and_types_of_the_duckdb_engine(
    bigquery_client, bigquery_emulator, warehouse
):
    job = bigquery_client.query(DEMO_QUERY)
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
    (insert,) = calls(bigquery_emulator, "POST", "/projects/pipeline-project/jobs")
    assert insert.body["configuration"]["query"]["query"] == DEMO_QUERY
    pages = [
        r for r in calls(bigquery_emulator, "GET", f"/queries/{job.job_id}") if "fields" in r.query
    ]
    assert [p.query.get("pageToken") is None for p in pages] == [True, False, False]
    assert job.state == "DONE" and job.error_result is None


def test_job_reports_running_then_done(bigquery_client, bigquery_emulator):
    job = bigquery_client.query(SLOW)
    answer = json.loads(
        bigquery_emulator.handle(
            "GET", f"/bigquery/v2/projects/pipeline-project/jobs/{job.job_id}", {}, {}, b""
        )[2]
    )
    assert answer["status"] == {"state": "RUNNING"}
    assert job.state == "RUNNING"  # as jobs.insert answered
    status, _, body = bigquery_emulator.handle(
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


def test_pages_follow_the_page_size(bigquery_client, bigquery_emulator):
    sql = "SELECT date FROM `mlops-demo.weather.seattle_daily` ORDER BY date LIMIT 23"
    rows = bigquery_client.query(sql).result(page_size=5)
    sizes = [page.num_items for page in rows.pages]
    assert sizes == [5, 5, 5, 5, 3]
    pages = [r for r in calls(bigquery_emulator, "GET", "") if "fields" in r.query]
    assert all(p.query["maxResults"] == "5" for p in pages)
    assert len(pages) == 4  # the first page came with the response that waited for the job


def test_every_type_and_null_round_trips(bigquery_client):
    job = bigquery_client.query("SELECT * FROM sample.typed ORDER BY id")
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


def test_integer_sums_are_int64_as_on_bigquery(bigquery_client):
    sql = "SELECT COUNT(*) AS n, SUM(big) AS total FROM sample.typed"
    rows = bigquery_client.query(sql).result()
    assert [f.field_type for f in rows.schema] == ["INTEGER", "INTEGER"]  # DuckDB: HUGEINT
    assert [tuple(r.values()) for r in rows] == [(3, -(2**62))]


def test_query_and_wait_uses_jobs_query(bigquery_client, bigquery_emulator):
    rows = bigquery_client.query_and_wait(
        "SELECT @n + 1 AS next, @day AS day",
        job_config=bigquery.QueryJobConfig(
            query_parameters=[
                bigquery.ScalarQueryParameter("n", "INT64", 41),
                bigquery.ScalarQueryParameter("day", "DATE", dt.date(2024, 1, 2)),
            ]
        ),
    )
    assert [tuple(r.values()) for r in rows] == [(42, dt.date(2024, 1, 2))]
    (request,) = calls(bigquery_emulator, "POST", "/projects/pipeline-project/queries")
    assert request.body["queryParameters"][0]["parameterValue"] == {"value": "41"}
    assert not calls(bigquery_emulator, "POST", "/jobs")


def test_dry_run_gives_the_schema_without_rows(bigquery_client, bigquery_emulator):
    config = bigquery.QueryJobConfig(dry_run=True)
    job = bigquery_client.query(
        "SELECT date, weather FROM weather.seattle_daily", job_config=config
    )
    assert job.state == "DONE"
    assert [(f.name, f.field_type) for f in job.schema] == [("date", "DATE"), ("weather", "STRING")]


def test_tables_and_their_rows_are_listed(bigquery_client, warehouse):
    table = bigquery_client.get_table("mlops-demo.weather.seattle_daily")
    assert table.num_rows == 1461
    assert [f.field_type for f in table.schema] == [
        "DATE",
        "FLOAT",
        "FLOAT",
        "FLOAT",
        "FLOAT",
        "STRING",
    ]
    rows = to_arrow(bigquery_client.list_rows(table, start_index=1459, max_results=5))
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        expected = connection.sql("SELECT * FROM weather.seattle_daily").to_arrow_table()
    assert rows.to_pylist() == expected.slice(1459).to_pylist()
    with pytest.raises(exceptions.NotFound, match=r"Table pipeline-project:weather\.nope"):
        bigquery_client.get_table("pipeline-project.weather.nope")


def test_concurrent_queries_each_get_their_own_rows(bigquery_client):
    results: dict[int, list] = {}

    def run(year: int) -> None:
        sql = (
            "SELECT EXTRACT(YEAR FROM date) AS year, COUNT(*) AS days "
            f"FROM weather.seattle_daily WHERE EXTRACT(YEAR FROM date) = {year} GROUP BY year"
        )
        results[year] = [tuple(r.values()) for r in bigquery_client.query(sql).result()]

    threads = [threading.Thread(target=run, args=(year,)) for year in range(2012, 2016)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == {y: [(y, 366 if y == 2012 else 365)] for y in range(2012, 2016)}


def test_jobs_are_looked_up_as_bigquery_does(bigquery_emulator):
    job = {
        "jobReference": {"jobId": "fixed-id", "location": "EU"},
        "configuration": {
            "query": {"query": "SELECT ts FROM sample.typed ORDER BY id", "useLegacySql": False}
        },
    }
    status, inserted = call(bigquery_emulator, "POST", "projects/p/jobs", body=job)
    assert status == 200 and inserted["status"] == {"state": "RUNNING"}
    assert inserted["jobReference"] == {"projectId": "p", "jobId": "fixed-id", "location": "EU"}
    status, again = call(bigquery_emulator, "POST", "projects/p/jobs", body=job)
    assert status == 409 and again["error"]["errors"][0]["reason"] == "duplicate"

    status, results = call(
        bigquery_emulator, "GET", "projects/p/queries/fixed-id", {"location": "EU"}
    )
    assert status == 200 and results["totalRows"] == "3"
    # Without formatOptions.useInt64Timestamp, TIMESTAMP cells are seconds.
    assert [row["f"][0]["v"] for row in results["rows"]] == [
        "1709210096.000001",
        None,
        "-0.000001",
    ]
    assert call(bigquery_emulator, "GET", "projects/p/jobs/fixed-id", {"location": "US"})[0] == 404
    assert call(bigquery_emulator, "GET", "projects/other/jobs/fixed-id")[0] == 404
    status, error = call(
        bigquery_emulator, "GET", "projects/p/queries/fixed-id", {"pageToken": "@@"}
    )
    assert status == 400 and "Invalid page token" in error["error"]["message"]
    status, page = call(
        bigquery_emulator,
        "GET",
        "projects/p/queries/fixed-id",
        {"maxResults": "1", "startIndex": "2"},
    )
    assert [row["f"][0]["v"] for row in page["rows"]] == ["-0.000001"] and "pageToken" not in page
