"""Ingest on the DuckDB engine: a DuckDB file made per test stands in for BigQuery."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from serving.contracts.errors import InputError
from trainer.data.query_engines import BigQueryEngine, DuckDBEngine, engine_for
from trainer.timeseries.ingest import DATA, MANIFEST, ingest_query, read_manifest

HOURS = 48
START = dt.datetime(2024, 1, 6, tzinfo=dt.UTC)  # a Saturday


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """weather.hourly (48 hours from 2024-01-06, one NULL temp) and weather.stations."""
    path = tmp_path / "local.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute("CREATE SCHEMA weather")
        connection.execute(
            f"""CREATE TABLE weather.hourly AS SELECT
                TIMESTAMPTZ '{START.isoformat()}' + to_hours(i) AS ts,
                CAST(TIMESTAMPTZ '{START.isoformat()}' + to_hours(i) AS DATE) AS day,
                CASE WHEN i = 5 THEN NULL ELSE i * 0.5 END :: DOUBLE AS temp,
                i :: BIGINT AS reading,
                'station-' || (i % 2) AS station
            FROM range({HOURS}) t(i)"""
        )
        connection.execute(
            "CREATE TABLE weather.stations AS SELECT * FROM "
            "(VALUES ('station-0', 47.6::DOUBLE), ('station-1', 47.7::DOUBLE)) v(name, latitude)"
        )
    return path


@pytest.fixture
def engine(database: Path) -> DuckDBEngine:
    return DuckDBEngine(database)


def test_manifest_describes_the_query_and_the_rows(engine, tmp_path):
    sql = (
        "SELECT ts, temp, station, EXTRACT(DAYOFWEEK FROM ts) AS dow "
        "FROM `my-project.weather.hourly` WHERE temp IS NOT NULL ORDER BY ts"
    )
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    manifest = ingest_query(sql, tmp_path / "dataset", engine)

    assert manifest == read_manifest(tmp_path / "dataset")
    assert manifest["engine"] == "duckdb"
    assert manifest["query"] == sql
    assert manifest["query_as_run"] == (
        "SELECT ts, temp, station, (EXTRACT(DAYOFWEEK FROM ts) + 1) AS dow "
        'FROM "weather"."hourly" WHERE NOT temp IS NULL ORDER BY ts NULLS FIRST'
    )
    assert manifest["row_count"] == HOURS - 1
    assert manifest["columns"] == [
        {"name": "ts", "type": "timestamp[us, tz=UTC]"},
        {"name": "temp", "type": "double"},
        {"name": "station", "type": "string"},
        {"name": "dow", "type": "int64"},
    ]
    assert manifest["time_range"] == {
        "column": "ts",
        "min": "2024-01-06T00:00:00+00:00",
        "max": "2024-01-07T23:00:00+00:00",
    }
    assert dt.datetime.fromisoformat(manifest["ingested_at"]) >= before
    assert sorted(p.name for p in (tmp_path / "dataset").iterdir()) == [DATA, MANIFEST]


def test_parquet_holds_exactly_the_query_result(engine, database, tmp_path):
    sql = (
        "SELECT ts, day, temp, reading, station, EXTRACT(DAYOFWEEK FROM ts) AS dow "
        "FROM weather.hourly ORDER BY ts"
    )
    ingest_query(sql, tmp_path / "dataset", engine)

    written = pq.read_table(tmp_path / "dataset" / DATA)
    with duckdb.connect(str(database), read_only=True) as connection:
        connection.execute("SET TimeZone = 'UTC'")
        expected = connection.sql(
            "SELECT ts, day, temp, reading, station, dayofweek(ts) + 1 AS dow "
            "FROM weather.hourly ORDER BY ts"
        ).to_arrow_table()
    assert written.schema.types == expected.schema.types
    assert written.equals(expected)
    rows = written.to_pylist()
    assert rows[0]["dow"] == 7 and rows[24]["dow"] == 1  # Saturday, then Sunday (BigQuery)
    assert rows[5]["temp"] is None
    assert rows[47]["ts"] == START + dt.timedelta(hours=47)


def test_table_reference_is_ingested_whole(engine, tmp_path):
    manifest = ingest_query("`my-project.weather.stations`", tmp_path / "dataset", engine)
    assert manifest["source"] == "`my-project.weather.stations`"
    assert manifest["query"] == "SELECT * FROM `my-project.weather.stations`"
    assert manifest["query_as_run"] == 'SELECT * FROM "weather"."stations"'
    assert manifest["row_count"] == 2
    assert manifest["time_range"] is None  # no TIMESTAMP or DATE column
    assert pq.read_table(tmp_path / "dataset" / DATA).to_pydict() == {
        "name": ["station-0", "station-1"],
        "latitude": [pytest.approx(47.6), pytest.approx(47.7)],
    }


def test_time_column_chooses_the_range(engine, tmp_path):
    manifest = ingest_query(
        "SELECT temp, day, ts FROM weather.hourly", tmp_path / "a", engine, time_column="ts"
    )
    assert manifest["time_range"]["column"] == "ts"
    default = ingest_query("SELECT temp, day, ts FROM weather.hourly", tmp_path / "b", engine)
    assert default["time_range"] == {"column": "day", "min": "2024-01-06", "max": "2024-01-07"}


def test_unknown_time_column_lists_the_columns_and_writes_nothing(engine, tmp_path):
    with pytest.raises(InputError) as caught:
        ingest_query(
            "SELECT ts, temp FROM weather.hourly", tmp_path / "ds", engine, time_column="time"
        )
    assert "Time column 'time'" in str(caught.value)
    assert "ts, temp" in str(caught.value)
    assert not (tmp_path / "ds").exists()


def test_time_column_without_an_order_is_refused(engine, tmp_path):
    with pytest.raises(InputError, match=r"Time column 'xs' has type list<.*no order"):
        ingest_query(
            "SELECT [reading, 1] AS xs, ts FROM weather.hourly",
            tmp_path / "ds",
            engine,
            time_column="xs",
        )
    assert not (tmp_path / "ds").exists()


def test_zero_rows_is_an_error_naming_the_query(engine, tmp_path):
    sql = "SELECT * FROM weather.hourly WHERE temp > 1000"
    with pytest.raises(InputError, match="returned no rows") as caught:
        ingest_query(sql, tmp_path / "ds", engine)
    assert sql in str(caught.value)
    assert not (tmp_path / "ds").exists()


@pytest.mark.parametrize(
    ("sql", "duckdb_says"),
    [
        ("SELECT humidity FROM weather.hourly", 'Referenced column "humidity" not found'),
        ("SELECT * FROM `my-project.weather.daily`", "Table with name daily does not exist"),
        ("SELECT CAST(station AS INT64) AS x FROM weather.hourly", "Could not convert string"),
    ],
)
def test_engine_error_gives_duckdbs_message_and_both_queries(engine, tmp_path, sql, duckdb_says):
    with pytest.raises(InputError) as caught:
        ingest_query(sql, tmp_path / "ds", engine)
    message = str(caught.value)
    assert "DuckDB" in message and duckdb_says in message
    assert f"Query (BigQuery SQL):\n    {sql}" in message
    assert "As run on DuckDB:\n    SELECT" in message
    assert "my-project" not in message.split("As run on DuckDB:")[1]
    assert caught.value.__cause__ is None
    assert not (tmp_path / "ds").exists()


def test_sql_syntax_error_is_reported_before_running(engine, tmp_path):
    with pytest.raises(InputError, match=r"(?s)Syntax error.*SELECT ts FROM WHERE"):
        ingest_query("SELECT ts FROM WHERE", tmp_path / "ds", engine)


def test_missing_database_says_how_the_demo_creates_it(tmp_path):
    missing = tmp_path / "build" / "weather.duckdb"
    with pytest.raises(InputError) as caught:
        DuckDBEngine(missing)
    assert str(missing) in str(caught.value)
    assert "make run PIPELINE=timeseries" in str(caught.value)
    with pytest.raises(InputError, match="make run PIPELINE=timeseries"):
        engine_for(str(missing), "my-project")


def test_a_file_that_is_not_a_duckdb_database_is_an_input_error(tmp_path):
    bogus = tmp_path / "not.duckdb"
    bogus.write_text("hello")
    with pytest.raises(InputError, match=r"(?s)DuckDB .*not\.duckdb.*could not run"):
        DuckDBEngine(bogus).run("SELECT 1 AS x")


def test_database_is_opened_read_only(engine, database, monkeypatch):
    opened = []
    real_connect = duckdb.connect

    def spy(*args, **kwargs):
        opened.append(kwargs)
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(duckdb, "connect", spy)
    before = database.read_bytes()
    table, ran = engine.run("SELECT COUNT(*) AS n FROM weather.hourly")
    assert table.to_pylist() == [{"n": HOURS}]
    assert ran == "SELECT COUNT(*) AS n FROM weather.hourly"
    assert [k.get("read_only") for k in opened] == [True]
    assert database.read_bytes() == before


@pytest.fixture
def new_york_local_time(monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_session_time_zone_is_utc_whatever_the_machines(engine, new_york_local_time):
    with duckdb.connect() as plain:
        assert plain.sql("SELECT current_setting('TimeZone')").fetchall() == [("America/New_York",)]
    table, _ = engine.run(
        "SELECT TIMESTAMP '2024-01-06 23:30:00' AS ts, "
        "EXTRACT(DAYOFWEEK FROM TIMESTAMP '2024-01-06 23:30:00') AS dow, "
        "DATE(TIMESTAMP '2024-01-06 23:30:00') AS day"
    )
    assert table.to_pylist() == [
        {
            "ts": dt.datetime(2024, 1, 6, 23, 30, tzinfo=dt.UTC),
            "dow": 7,
            "day": dt.date(2024, 1, 6),
        }
    ]


def test_failure_while_writing_leaves_no_complete_looking_dataset(engine, tmp_path, monkeypatch):
    def write_half_then_fail(table: pa.Table, where, **kwargs) -> None:
        Path(where).write_bytes(b"PAR1 half a file")
        raise OSError("No space left on device")

    monkeypatch.setattr(pq, "write_table", write_half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        ingest_query("SELECT * FROM weather.hourly", tmp_path / "ds", engine)
    assert not (tmp_path / "ds").exists()
    monkeypatch.undo()
    with pytest.raises(FileNotFoundError, match="incomplete or missing"):
        read_manifest(tmp_path / "ds")


def test_manifest_is_written_last(engine, tmp_path, monkeypatch):
    import trainer.timeseries.ingest as table_ingest

    def fail_json(path, payload) -> None:
        assert (tmp_path / "ds" / DATA).is_file()  # the data is complete before the marker
        raise OSError("disk full")

    monkeypatch.setattr(table_ingest, "write_json", fail_json)
    with pytest.raises(OSError, match="disk full"):
        ingest_query("SELECT * FROM weather.hourly", tmp_path / "ds", engine)
    assert not (tmp_path / "ds").exists()


def test_a_complete_dataset_is_never_replaced(engine, tmp_path):
    ingest_query("SELECT * FROM weather.stations", tmp_path / "ds", engine)
    before = (tmp_path / "ds" / MANIFEST).read_text()
    with pytest.raises(FileExistsError, match="already holds a complete artifact"):
        ingest_query("SELECT * FROM weather.hourly", tmp_path / "ds", engine)
    assert (tmp_path / "ds" / MANIFEST).read_text() == before
    assert json.loads(before)["row_count"] == 2


def test_engine_for_picks_duckdb_for_a_local_database_else_bigquery(database):
    local = engine_for(str(database), "my-project")
    assert isinstance(local, DuckDBEngine) and local.name == "duckdb"
    remote = engine_for("", "my-project", "EU")
    assert isinstance(remote, BigQueryEngine) and remote.name == "bigquery"
    assert (remote.project, remote.location) == ("my-project", "EU")
    assert remote._client is None  # built on first use, so no credentials are needed yet
