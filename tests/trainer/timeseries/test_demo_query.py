"""The demo's BigQuery SQL, run both ways where this machine allows, gives the same answer.

No BigQuery can be reached here, so "both ways" means: the query transpiled
and run on the DuckDB copy, checked against the same computation done in
pandas straight from the CSV the package ships; and the same rows served
through the real google-cloud-bigquery client (from the loopback stand-in,
tests/fakes/bigquery_api.py) ingested into the same Parquet as the DuckDB path.
"""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from pipelines.timeseries.demo import DEMO_QUERY
from tests.fakes.bigquery_api import running_fake_bigquery_api
from trainer.data.query_engines import BigQueryEngine, DuckDBEngine
from trainer.timeseries.demo_data import weather_csv, write_demo_database
from trainer.timeseries.ingest import DATA, ingest_query

# BigQuery semantics: DATE_TRUNC on a DATE is a DATE, DAYOFWEEK is 1 (Sunday) to 7.
MONTHLY_WEEKDAYS = """SELECT DATE_TRUNC(date, MONTH) AS month,
  EXTRACT(DAYOFWEEK FROM date) AS weekday, AVG(temp_max) AS mean_max, COUNT(*) AS days
FROM `mlops-demo.weather.seattle_daily`
GROUP BY month, weekday
ORDER BY month, weekday"""


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    return write_demo_database(tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb")


@pytest.fixture(scope="module")
def csv() -> pd.DataFrame:
    frame = pd.read_csv(weather_csv())
    frame["date"] = pd.to_datetime(frame["date"], format="%Y/%m/%d")
    return frame


def test_the_demo_query_on_duckdb_returns_the_csv(database, csv, tmp_path):
    manifest = ingest_query(DEMO_QUERY, tmp_path / "ds", DuckDBEngine(database))
    table = pq.read_table(tmp_path / "ds" / DATA).to_pandas()

    assert manifest["row_count"] == len(csv) == 1461
    assert manifest["time_range"] == {
        "column": "date",
        "min": "2012-01-01",
        "max": "2015-12-31",
    }
    assert "`" not in manifest["query_as_run"] and "mlops-demo" not in manifest["query_as_run"]
    expected = csv[["date", "temp_max", "temp_min", "precipitation"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        table.assign(date=pd.to_datetime(table["date"])), expected, check_dtype=False
    )


def test_date_trunc_and_dayofweek_follow_bigquery_on_the_demo_table(database, csv, tmp_path):
    ingest_query(MONTHLY_WEEKDAYS, tmp_path / "ds", DuckDBEngine(database))
    table = pq.read_table(tmp_path / "ds" / DATA)
    assert str(table.schema.field("month").type) == "date32[day]"  # a DATE, as on BigQuery

    got = table.to_pandas()
    frame = csv.assign(
        month=csv["date"].dt.to_period("M").dt.start_time,
        weekday=(csv["date"].dt.dayofweek + 1) % 7 + 1,  # pandas Monday=0 -> BigQuery Sunday=1
    )
    expected = (
        frame.groupby(["month", "weekday"])
        .agg(mean_max=("temp_max", "mean"), days=("temp_max", "size"))
        .reset_index()
    )
    assert got["weekday"].tolist() == expected["weekday"].tolist()
    assert got["days"].tolist() == expected["days"].tolist()
    assert pd.to_datetime(got["month"]).tolist() == expected["month"].tolist()
    assert got["mean_max"].to_numpy() == pytest.approx(expected["mean_max"].to_numpy())


@pytest.mark.timeout(60)
def test_the_same_rows_through_the_bigquery_client_give_the_same_parquet(database, tmp_path):
    ingest_query(DEMO_QUERY, tmp_path / "duckdb", DuckDBEngine(database))
    local = pq.read_table(tmp_path / "duckdb" / DATA)
    schema = [
        {"name": "date", "type": "DATE", "mode": "NULLABLE"},
        *({"name": n, "type": "FLOAT", "mode": "NULLABLE"} for n in local.column_names[1:]),
    ]
    rows = [tuple(row.values()) for row in local.to_pylist()]
    with running_fake_bigquery_api(schema=schema, rows=rows, page_size=500) as api:
        client = bigquery.Client(
            project="demo-project",
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": api.url},
        )
        manifest = ingest_query(DEMO_QUERY, tmp_path / "bigquery", BigQueryEngine(client))

    assert api.queries_sent() == [DEMO_QUERY]  # BigQuery gets the SQL as written
    assert manifest["engine"] == "bigquery"
    assert pq.read_table(tmp_path / "bigquery" / DATA).equals(local)
