"""The real google-cloud-bigquery client, through BigQueryEngine and ingest_query.

Real queries run on the emulator's BigQuery (tests/pipelines/emulator/
test_bigquery_*.py). Here the real client is tested at the request level
against a scripted loopback stand-in (tests/fakes/bigquery_api.py), which
also plays what no local query produces: slow jobs polled until done,
permission and quota errors, jobs that fail after they were accepted. Checked:
the query sent, the rows decoded page by page into Arrow and Parquet, and
BigQuery's error JSON turned into an InputError.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from serving.contracts.errors import InputError
from tests.fakes.bigquery_api import FakeBigQueryApi, running_fake_bigquery_api
from trainer.data.query_engines import ENDPOINT_VARIABLE, BigQueryEngine, engine_for
from trainer.timeseries.ingest import DATA, ingest_query, read_manifest

pytestmark = pytest.mark.timeout(60)

PROJECT = "demo-project"
START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
SCHEMA = [
    {"name": "ts", "type": "TIMESTAMP", "mode": "NULLABLE"},
    {"name": "reading", "type": "INTEGER", "mode": "NULLABLE"},
    {"name": "temp", "type": "FLOAT", "mode": "NULLABLE"},
    {"name": "station", "type": "STRING", "mode": "NULLABLE"},
    {"name": "day", "type": "DATE", "mode": "NULLABLE"},
]


def make_rows(count: int) -> list[tuple]:
    """Hourly rows; every 4th temp and every 5th station NULL, a negative and a big int."""
    rows = []
    for i in range(count):
        ts = START + dt.timedelta(hours=i, microseconds=i)
        rows.append(
            (
                ts,
                -(2**62) if i == 1 else i * 1000,
                None if i % 4 == 3 else i * 0.25 - 1.5,
                None if i % 5 == 4 else f"station-{i % 3} é",
                ts.date(),
            )
        )
    return rows


@pytest.fixture
def api():
    with running_fake_bigquery_api(schema=SCHEMA, rows=make_rows(10)) as fake:
        yield fake


def client_for(api: FakeBigQueryApi) -> bigquery.Client:
    return bigquery.Client(
        project=PROJECT,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": api.url},
    )


def test_query_is_sent_as_a_standard_sql_job(api, tmp_path):
    engine = BigQueryEngine(client_for(api))
    manifest = ingest_query("my-project.weather.hourly", tmp_path / "ds", engine)

    assert api.queries_sent() == ["SELECT * FROM `my-project.weather.hourly`"]
    (insert,) = api.calls("POST", r"/jobs$")
    assert insert.path == f"/bigquery/v2/projects/{PROJECT}/jobs"
    assert insert.body["configuration"]["query"]["useLegacySql"] is False
    assert manifest["engine"] == "bigquery"
    assert (
        manifest["query"] == manifest["query_as_run"] == "SELECT * FROM `my-project.weather.hourly`"
    )


def test_job_is_polled_until_complete(api, tmp_path):
    api.polls_before_done = 2
    ingest_query("SELECT * FROM weather.hourly", tmp_path / "ds", BigQueryEngine(client_for(api)))

    (job_id,) = api.jobs
    results = api.calls("GET", rf"/queries/{job_id}$")
    assert len(results) >= 2
    assert api.polls[job_id] > api.polls_before_done  # answered jobComplete: false twice
    states = api.calls("GET", rf"/jobs/{job_id}$")
    assert len(states) >= 2  # RUNNING, then DONE
    assert api.jobs[job_id]["status"]["state"] == "DONE"


def test_rows_are_decoded_into_the_parquet(api, tmp_path):
    manifest = ingest_query(
        "SELECT * FROM weather.hourly", tmp_path / "ds", BigQueryEngine(client_for(api))
    )
    table = pq.read_table(tmp_path / "ds" / DATA)

    assert table.schema == pa.schema(
        [
            ("ts", pa.timestamp("us", tz="UTC")),
            ("reading", pa.int64()),
            ("temp", pa.float64()),
            ("station", pa.string()),
            ("day", pa.date32()),
        ]
    )
    expected = [dict(zip([f["name"] for f in SCHEMA], r, strict=True)) for r in make_rows(10)]
    assert table.to_pylist() == expected
    assert table["temp"].null_count == 2 and table["station"].null_count == 2
    assert table["reading"][1].as_py() == -(2**62)  # int64 not through a float
    assert table["ts"][9].as_py() == START + dt.timedelta(hours=9, microseconds=9)
    assert manifest == read_manifest(tmp_path / "ds")
    assert manifest["row_count"] == 10
    assert manifest["columns"][0] == {"name": "ts", "type": "timestamp[us, tz=UTC]"}
    assert manifest["time_range"] == {
        "column": "ts",
        "min": "2024-01-01T00:00:00+00:00",
        "max": "2024-01-01T09:00:00.000009+00:00",
    }


def test_results_larger_than_a_page_are_fetched_page_by_page(tmp_path):
    with running_fake_bigquery_api(schema=SCHEMA, rows=make_rows(250), page_size=40) as api:
        ingest_query(
            "SELECT * FROM weather.hourly", tmp_path / "ds", BigQueryEngine(client_for(api))
        )
    pages = [r for r in api.calls("GET", r"/queries/") if r.query.get("fields")]
    assert len(pages) == 7  # 250 rows, 40 a page
    assert [p.query.get("pageToken") is None for p in pages] == [True] + [False] * 6
    assert all(p.query.get("formatOptions.useInt64Timestamp") == "True" for p in pages)
    table = pq.read_table(tmp_path / "ds" / DATA)
    assert table.num_rows == 250
    assert table["reading"].to_pylist()[:3] == [0, -(2**62), 2000]
    assert table["reading"].to_pylist()[-1] == 249_000
    assert table["ts"].to_pylist() == sorted(table["ts"].to_pylist())


@pytest.mark.parametrize("fail_at", ["insert", "job"])
def test_bigquery_error_gives_its_message_and_the_query(api, tmp_path, fail_at):
    api.fail_at = fail_at
    sql = "SELECT FAIL_HERE FROM weather.hourly"
    with pytest.raises(InputError) as caught:
        ingest_query(sql, tmp_path / "ds", BigQueryEngine(client_for(api)))
    message = str(caught.value)
    assert 'invalidQuery: Syntax error: Unexpected identifier "FAIL_HERE" at [1:8]' in message
    assert "400 BadRequest" in message
    assert f"Query:\n    {sql}" in message
    assert "Traceback" not in message and caught.value.__cause__ is None
    assert api.queries_sent() == [sql]
    assert not (tmp_path / "ds").exists()


@pytest.mark.parametrize(
    ("status", "reason", "kind"),
    [(404, "notFound", "NotFound"), (403, "accessDenied", "Forbidden")],
)
def test_failed_job_reports_bigquerys_reason(api, tmp_path, status, reason, kind):
    api.fail_at, api.fail_status, api.fail_reason = "job", status, reason
    api.fail_message = (
        "Not found: Table demo-project:weather.FAIL_HERE was not found in location US"
    )
    with pytest.raises(InputError) as caught:
        ingest_query(
            "demo-project.weather.FAIL_HERE", tmp_path / "ds", BigQueryEngine(client_for(api))
        )
    message = str(caught.value)
    assert f"({status} {kind})" in message
    assert f"{reason}: Not found: Table demo-project:weather.FAIL_HERE" in message
    assert "SELECT * FROM `demo-project.weather.FAIL_HERE`" in message
    assert len(api.calls("POST", r"/jobs$")) == 1  # not retried


def test_zero_rows_from_bigquery_is_an_input_error(api, tmp_path):
    api.rows = []
    with pytest.raises(InputError, match=r"returned no rows \(bigquery\)"):
        ingest_query(
            "SELECT * FROM weather.hourly WHERE FALSE",
            tmp_path / "ds",
            BigQueryEngine(client_for(api)),
        )
    assert len(api.calls("POST", r"/jobs$")) == 1
    assert not (tmp_path / "ds").exists()


def test_engine_for_honours_the_endpoint_variable(api, tmp_path, monkeypatch):
    monkeypatch.setenv(ENDPOINT_VARIABLE, api.url)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "no-such-key.json"))
    engine = engine_for("", "other-project", "EU")
    manifest = ingest_query("other-project.weather.hourly", tmp_path / "ds", engine)

    assert manifest["engine"] == "bigquery" and manifest["row_count"] == 10
    (insert,) = api.calls("POST", r"/jobs$")
    assert insert.path == "/bigquery/v2/projects/other-project/jobs"
    assert insert.body["jobReference"]["location"] == "EU"
    assert all(r.query.get("location") == "EU" for r in api.requests[1:])


def test_missing_credentials_say_how_to_log_in(tmp_path, monkeypatch):
    monkeypatch.delenv(ENDPOINT_VARIABLE, raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "no-such-key.json"))
    engine = engine_for("", "my-project")
    with pytest.raises(InputError) as caught:
        engine.run("SELECT 1 AS x")
    message = str(caught.value)
    assert "gcloud auth application-default login" in message
    assert "no-such-key.json" in message  # google.auth's own reason
    assert caught.value.__cause__ is None


def test_loopback_endpoint_without_a_project_asks_for_one(api, tmp_path, monkeypatch):
    monkeypatch.setenv(ENDPOINT_VARIABLE, api.url)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "no-such-key.json"))
    for variable in ("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    with pytest.raises(InputError, match="give the project"):
        engine_for("", "").run("SELECT 1 AS x")
    assert api.requests == []


def test_storage_api_is_not_used_when_not_installed(api, monkeypatch):
    import google.cloud.bigquery.table as table_module

    seen = []
    real = table_module.RowIterator.to_arrow

    def spy(self, *args, **kwargs):
        seen.append(kwargs.get("create_bqstorage_client"))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(table_module.RowIterator, "to_arrow", spy)
    table, _ = BigQueryEngine(client_for(api)).run("SELECT * FROM weather.hourly")
    assert seen == [False]  # google-cloud-bigquery-storage is not installed here
    assert table.num_rows == 10
