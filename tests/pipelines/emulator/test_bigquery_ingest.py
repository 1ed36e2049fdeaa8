"""The time-series ingest step reading BigQuery, from the emulator, as from DuckDB.

The step's own engine (engine_for, through the endpoint variable) uses the real
google-cloud-bigquery client on the BigQuery emulator served on loopback over
the test warehouse (bigquery_loopback.py); nothing is mocked.
"""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from pipelines.timeseries.demo import DEMO_QUERY
from tests.pipelines.emulator.bigquery_loopback import PROJECT, calls
from trainer.data.query_engines import ENDPOINT_VARIABLE, DuckDBEngine, engine_for
from trainer.timeseries.ingest import DATA, ingest_query, read_manifest

pytestmark = pytest.mark.timeout(60)


def test_ingest_step_through_the_endpoint_variable_writes_the_duckdb_parquet(
    bigquery_served, bigquery_emulator, warehouse, tmp_path, monkeypatch
):
    monkeypatch.setenv(ENDPOINT_VARIABLE, bigquery_served[1])
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "no-such-key.json"))
    engine = engine_for("", PROJECT)
    manifest = ingest_query(DEMO_QUERY, tmp_path / "bigquery", engine)
    ingest_query(DEMO_QUERY, tmp_path / "duckdb", DuckDBEngine(warehouse))

    assert manifest["engine"] == "bigquery" and manifest["row_count"] == 1461
    assert manifest == read_manifest(tmp_path / "bigquery")
    assert pq.read_table(tmp_path / "bigquery" / DATA).equals(
        pq.read_table(tmp_path / "duckdb" / DATA)
    )
    (insert,) = calls(bigquery_emulator, "POST", f"/projects/{PROJECT}/jobs")
    assert insert.body["configuration"]["query"]["query"] == DEMO_QUERY


def test_ingest_step_reports_a_missing_table_as_an_input_error(
    bigquery_served, tmp_path, monkeypatch
):
    from serving.contracts.errors import InputError

    monkeypatch.setenv(ENDPOINT_VARIABLE, bigquery_served[1])
    with pytest.raises(InputError) as caught:
        ingest_query("mlops-demo.weather.hourly", tmp_path / "ds", engine_for("", PROJECT))
    assert "(404 NotFound)" in str(caught.value)
    assert "notFound: Not found: Table mlops-demo:weather.hourly" in str(caught.value)
    assert not (tmp_path / "ds").exists()
