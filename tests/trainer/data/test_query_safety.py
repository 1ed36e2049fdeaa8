"""A source query may only read, and only the data it names, on both engines.

A local run against BigQuery uses the user's own credentials, and the local
DuckDB stand-in runs on the user's machine: the same parse-tree check refuses
every statement that is not one read-only query before anything is sent, and
DuckDB runs with external access off, so a query cannot read host files.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from serving.contracts.errors import InputError
from tests.fakes.bigquery_api import running_fake_bigquery_api
from trainer.data.bigquery_sql import read_only_query
from trainer.data.query_engines import BigQueryEngine, DuckDBEngine
from trainer.timeseries.ingest import ingest_query

WRITES = {
    "DROP TABLE weather.hourly": "DROP",
    "DELETE FROM weather.hourly WHERE TRUE": "DELETE",
    "SELECT 1; DROP TABLE weather.hourly": "SELECT, DROP",
    "INSERT INTO weather.hourly (temp) VALUES (1.0)": "INSERT",
    "UPDATE weather.hourly SET temp = 0 WHERE TRUE": "UPDATE",
    "MERGE weather.hourly t USING weather.hourly s ON FALSE WHEN MATCHED THEN DELETE": "MERGE",
    "CREATE TABLE weather.copy AS SELECT * FROM weather.hourly": "CREATE",
    "TRUNCATE TABLE weather.hourly": "TRUNCATETABLE",
    "EXECUTE IMMEDIATE 'DROP TABLE weather.hourly'": "COMMAND",
    "EXPORT DATA OPTIONS (uri = 'gs://b/*.csv') AS SELECT 1": "EXPORT",
    "SET @@dataset_id = 'weather'": "SET",
}
HOST_FILES = [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM read_blob('/etc/hostname')",
    "SELECT * FROM read_json_auto('/etc/passwd')",
    "SELECT * FROM read_parquet('/etc/machine-id')",
]


@pytest.mark.parametrize(("sql", "kinds"), WRITES.items())
def test_anything_but_one_read_only_query_is_refused_naming_it(sql, kinds):
    with pytest.raises(InputError, match=rf"one query that returns rows \(a SELECT\), got {kinds}"):
        read_only_query(sql)


@pytest.mark.parametrize("sql", ["SELECT 1", "WITH a AS (SELECT 1 AS x) SELECT x FROM a"])
def test_a_query_that_reads_is_accepted(sql):
    assert read_only_query(sql).sql(dialect="bigquery")


@pytest.mark.parametrize("sql", list(WRITES)[:4])
def test_bigquery_never_receives_a_write(tmp_path, sql):
    """The scripted BigQuery stand-in (tests/fakes) records every request it gets."""
    with running_fake_bigquery_api(schema=[], rows=[]) as api:
        client = bigquery.Client(
            project="demo-project",
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": api.url},
        )
        with pytest.raises(InputError, match="a SELECT"):
            ingest_query(sql, tmp_path / "ds", BigQueryEngine(client))
    assert api.requests == []
    assert not (tmp_path / "ds").exists()


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("CREATE SCHEMA weather")
        connection.execute("CREATE TABLE weather.hourly AS SELECT 1.5 AS temp")
    return path


@pytest.mark.parametrize("sql", HOST_FILES)
def test_duckdb_reads_no_host_file(warehouse, tmp_path, sql):
    with pytest.raises(InputError, match="file system operations are disabled"):
        ingest_query(sql, tmp_path / "ds", DuckDBEngine(warehouse))
    assert not (tmp_path / "ds").exists()


def test_duckdb_still_reads_its_own_database(warehouse, tmp_path):
    manifest = ingest_query("weather.hourly", tmp_path / "ds", DuckDBEngine(warehouse))
    assert manifest["row_count"] == 1
