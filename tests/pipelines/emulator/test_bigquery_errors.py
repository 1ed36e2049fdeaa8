"""BigQuery's errors from the emulator: bad SQL, missing tables, what it does not serve.

The real google-cloud-bigquery client against the BigQuery emulator served on
loopback over the test warehouse (bigquery_loopback.py); nothing is mocked.
"""

from __future__ import annotations

import json

import pytest
from google.api_core import exceptions
from google.cloud import bigquery

pytestmark = pytest.mark.timeout(60)


def test_bad_sql_is_a_bad_request_with_the_engines_message(bigquery_client):
    with pytest.raises(exceptions.BadRequest) as caught:
        bigquery_client.query("SELECT date FROM weather.seattle_daily WHERE").result()
    assert "Syntax error in the BigQuery SQL query" in caught.value.message
    assert caught.value.errors[0]["reason"] == "invalidQuery"

    with pytest.raises(exceptions.BadRequest, match='Referenced column "nope" not found'):
        bigquery_client.query("SELECT nope FROM weather.seattle_daily").result()
    with pytest.raises(exceptions.BadRequest, match="must be qualified with a dataset"):
        bigquery_client.query("SELECT * FROM seattle_daily").result()


def test_missing_table_or_dataset_is_not_found_naming_it(bigquery_client):
    with pytest.raises(exceptions.NotFound) as caught:
        bigquery_client.query("SELECT * FROM `mlops-demo.weather.hourly`").result()
    assert "Not found: Table mlops-demo:weather.hourly was not found in location US" in str(
        caught.value
    )
    assert caught.value.errors[0]["reason"] == "notFound"
    with pytest.raises(exceptions.NotFound, match="Dataset mlops-demo:climate was not found"):
        bigquery_client.query("WITH t AS (SELECT 1 AS x) SELECT * FROM t, climate.daily").result()


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
def test_unsupported_requests_are_refused_saying_what_is_served(bigquery_client, sql, config, said):
    with pytest.raises(exceptions.BadRequest) as caught:
        bigquery_client.query(sql, job_config=config)
    assert said in caught.value.message
    assert "runs read-only GoogleSQL queries" in caught.value.message


def test_other_job_types_and_paths_are_refused(bigquery_client, bigquery_emulator):
    with pytest.raises(exceptions.BadRequest, match="a load job is not supported"):
        bigquery_client.load_table_from_uri("gs://bucket/x.csv", "mlops-demo.weather.new")
    with pytest.raises(exceptions.BadRequest, match="GET projects/pipeline-project/datasets"):
        bigquery_client.list_datasets().__next__()
    assert bigquery_emulator.handle("GET", "/v1/projects/p/locations", {}, {}, b"") is None
    status, headers, body = bigquery_emulator.handle(
        "POST", "/bigquery/v2/projects/p/jobs", {}, {}, b"{"
    )
    assert status == 400 and json.loads(body)["error"]["errors"][0]["reason"] == "parseError"
    assert headers["Content-Type"].startswith("application/json")
