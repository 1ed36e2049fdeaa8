"""BigQuery SQL -> DuckDB: each dialect fix is run on DuckDB and checked against the values
BigQuery documents (examples from its function reference where it gives them)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
import pyarrow as pa
import pytest

from serving.contracts.errors import InputError
from trainer.data.bigquery_sql import query_for, to_duckdb

UTC = dt.UTC
SUNDAY = dt.date(2024, 1, 7)
WEEKDAYS = ("SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY")


@pytest.fixture
def duck():
    """An in-memory DuckDB session as DuckDBEngine opens one (UTC), with weather.days."""
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute("CREATE SCHEMA weather")
    connection.execute(
        "CREATE TABLE weather.days AS SELECT CAST(d AS DATE) AS day "
        "FROM range(DATE '2023-12-20', DATE '2025-01-10', INTERVAL 1 DAY) t(d)"
    )
    yield connection
    connection.close()


def run(duck, bigquery_sql: str) -> pa.Table:
    return duck.sql(to_duckdb(bigquery_sql)).to_arrow_table()


def row(duck, bigquery_sql: str) -> dict:
    table = run(duck, bigquery_sql)
    assert table.num_rows == 1
    return {name: values[0] for name, values in table.to_pydict().items()}


# --- query_for ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "table"),
    [
        ("my-project.weather.hourly", "my-project.weather.hourly"),
        ("`my-project.weather.hourly`", "my-project.weather.hourly"),
        ("`my-project`.weather.`hourly`", "my-project.weather.hourly"),
        ("weather.hourly", "weather.hourly"),
        ("  `weather.hourly`\n", "weather.hourly"),
        ("example.com:my-project.weather.hourly", "example.com:my-project.weather.hourly"),
        ("my-project.weather.hourly-2024", "my-project.weather.hourly-2024"),
    ],
)
def test_query_for_turns_a_table_reference_into_select_star(source, table):
    assert query_for(source) == f"SELECT * FROM `{table}`"


def test_query_for_passes_a_query_through():
    sql = "SELECT ts, temp\nFROM `my-project.weather.hourly` WHERE temp > 0"
    assert query_for(f"  {sql}\n") == sql


@pytest.mark.parametrize("source", ["", "   \n"])
def test_query_for_refuses_an_empty_source_with_an_example(source):
    with pytest.raises(InputError, match=r"empty.*e\.g\. `my-project\.weather\.hourly`"):
        query_for(source)


@pytest.mark.parametrize(
    "source",
    ["hourly", "a.b.c.d", "`weather.hourly", "weather..hourly", "my_project!.weather.hourly"],
)
def test_query_for_refuses_what_is_neither_a_query_nor_a_table(source):
    with pytest.raises(InputError, match="neither a query nor a table reference") as caught:
        query_for(source)
    assert repr(source) in str(caught.value)
    assert "project.dataset.table" in str(caught.value)


# --- the dialect fixes, run on DuckDB -----------------------------------------------------


def test_dayofweek_counts_sunday_as_1_to_saturday_as_7(duck):
    # BigQuery: "DAYOFWEEK: Returns values in the range [1,7] with Sunday as the first day".
    for offset in range(7):
        day = SUNDAY + dt.timedelta(days=offset)
        got = row(
            duck,
            f"SELECT EXTRACT(DAYOFWEEK FROM DATE '{day}') AS d, "
            f"EXTRACT(DAYOFWEEK FROM TIMESTAMP '{day} 23:30:00') AS t, "
            f"EXTRACT(DAYOFWEEK FROM DATETIME '{day} 00:00:00') AS dt",
        )
        assert got == {"d": offset + 1, "t": offset + 1, "dt": offset + 1}, day


def test_dayofweek_on_a_table_column(duck):
    table = run(
        duck,
        "SELECT day, EXTRACT(DAYOFWEEK FROM day) AS dow FROM `my-project.weather.days` "
        "ORDER BY day",
    ).to_pydict()
    assert len(table["day"]) > 300
    # Python: Monday 0 .. Sunday 6; BigQuery: Sunday 1 .. Saturday 7.
    assert table["dow"] == [(d.weekday() + 1) % 7 + 1 for d in table["day"]]


def test_week_numbers_match_the_bigquery_reference_examples(duck):
    # The EXTRACT example table in BigQuery's date function reference.
    documented = {
        "2005-01-03": (2005, 1, 2005, 1),
        "2007-12-31": (2008, 1, 2007, 52),
        "2009-01-01": (2009, 1, 2009, 0),
        "2009-12-31": (2009, 53, 2009, 52),
        "2017-01-02": (2017, 1, 2017, 1),
        "2017-05-26": (2017, 21, 2017, 21),
    }
    for day, expected in documented.items():
        got = row(
            duck,
            f"SELECT EXTRACT(ISOYEAR FROM DATE '{day}') AS isoyear, "
            f"EXTRACT(ISOWEEK FROM DATE '{day}') AS isoweek, "
            f"EXTRACT(YEAR FROM DATE '{day}') AS year, EXTRACT(WEEK FROM DATE '{day}') AS week",
        )
        assert tuple(got.values()) == expected, day
    # ... and the WEEK(<WEEKDAY>) example: 2017-11-05 -> isoweek 44, week 45, week(monday) 44.
    got = row(
        duck,
        "WITH t AS (SELECT DATETIME(TIMESTAMP '2017-11-05 00:00:00+00', 'UTC') AS datetime) "
        "SELECT EXTRACT(ISOWEEK FROM datetime) AS isoweek, EXTRACT(WEEK FROM datetime) AS week, "
        "EXTRACT(WEEK(MONDAY) FROM datetime) AS week_monday FROM t",
    )
    assert got == {"isoweek": 44, "week": 45, "week_monday": 44}


def test_week_of_every_weekday_over_year_boundaries(duck):
    # BigQuery's definition: weeks begin on <WEEKDAY>; days before the year's first one are
    # in week 0. So the week number is how many <WEEKDAY>s the year has had up to that day.
    columns = ", ".join(f"EXTRACT(WEEK({name}) FROM day) AS {name}" for name in WEEKDAYS)
    table = run(
        duck,
        f"SELECT day, EXTRACT(WEEK FROM day) AS week, EXTRACT(ISOWEEK FROM day) AS isoweek, "
        f"{columns} FROM weather.days ORDER BY day",
    ).to_pydict()
    for i, day in enumerate(table["day"]):
        for start, name in enumerate(WEEKDAYS):
            python_weekday = (start - 1) % 7  # Python: Monday 0
            expected = sum(
                1
                for n in range(day.timetuple().tm_yday)
                if (dt.date(day.year, 1, 1) + dt.timedelta(days=n)).weekday() == python_weekday
            )
            assert table[name][i] == expected, (day, name)
        assert table["week"][i] == table["SUNDAY"][i]
        assert table["isoweek"][i] == day.isocalendar().week


def test_date_trunc_of_a_date_is_a_date(duck):
    # Reference examples: DATE_TRUNC(DATE '2008-12-25', MONTH) = 2008-12-01;
    # DATE_TRUNC(DATE '2017-11-05', WEEK(MONDAY)) = 2017-10-30;
    # DATE_TRUNC(DATE '2015-06-15', ISOYEAR) = 2014-12-29.
    table = run(
        duck,
        "SELECT DATE_TRUNC(DATE '2008-12-25', MONTH) AS month, "
        "DATE_TRUNC(DATE '2017-11-05', WEEK(MONDAY)) AS week_monday, "
        "DATE_TRUNC(DATE '2017-11-08', WEEK) AS week, "
        "DATE_TRUNC(DATE '2015-06-15', ISOYEAR) AS isoyear, "
        "DATE_TRUNC(DATE '2024-05-17', QUARTER) AS quarter, "
        "DATE_TRUNC(day, YEAR) AS column_year "
        "FROM weather.days WHERE day = DATE '2024-05-17'",
    )
    assert all(pa.types.is_date32(f.type) for f in table.schema), table.schema
    assert table.to_pylist() == [
        {
            "month": dt.date(2008, 12, 1),
            "week_monday": dt.date(2017, 10, 30),
            "week": dt.date(2017, 11, 5),
            "isoyear": dt.date(2014, 12, 29),
            "quarter": dt.date(2024, 4, 1),
            "column_year": dt.date(2024, 1, 1),
        }
    ]


def test_date_add_and_sub_of_a_date_are_dates(duck):
    table = run(
        duck,
        "SELECT DATE_ADD(DATE '2024-01-31', INTERVAL 1 MONTH) AS added, "
        "DATE_SUB(DATE '2024-03-01', INTERVAL 1 DAY) AS subtracted",
    )
    assert all(pa.types.is_date32(f.type) for f in table.schema), table.schema
    assert table.to_pylist() == [
        {"added": dt.date(2024, 2, 29), "subtracted": dt.date(2024, 2, 29)}
    ]


def test_timestamp_and_datetime_truncation_keep_their_types(duck):
    table = run(
        duck,
        "SELECT TIMESTAMP_TRUNC(TIMESTAMP '2024-05-17 10:11:12', HOUR) AS ts, "
        "DATETIME_TRUNC(DATETIME '2024-05-17 10:11:12', DAY) AS dtm, "
        "DATE_TRUNC(TIMESTAMP '2024-05-17 10:11:12', MONTH) AS date_trunc_ts",
    )
    types = {f.name: f.type for f in table.schema}
    assert types["ts"] == pa.timestamp("us", tz="UTC")
    assert types["dtm"] == pa.timestamp("us")
    assert types["date_trunc_ts"] == pa.timestamp("us", tz="UTC")
    assert table.to_pylist() == [
        {
            "ts": dt.datetime(2024, 5, 17, 10, tzinfo=UTC),
            "dtm": dt.datetime(2024, 5, 17),
            "date_trunc_ts": dt.datetime(2024, 5, 1, tzinfo=UTC),
        }
    ]


def test_project_part_of_table_names_is_dropped(duck):
    sql = to_duckdb(
        "SELECT COUNT(*) AS n FROM `my-project.weather.days` AS a "
        "JOIN `other-project`.weather.days AS b USING (day) "
        "JOIN `example.com:p.weather.days` AS c USING (day) WHERE a.day < '2024-01-01'"
    )
    assert "project" not in sql and "example.com" not in sql
    assert duck.sql(sql).fetchall() == [(12,)]  # 2023-12-20 .. 2023-12-31
    assert to_duckdb("SELECT * FROM weather.days") == "SELECT * FROM weather.days"


def test_parse_timestamp_reads_the_wall_time_in_its_time_zone(duck):
    # Reference examples: PARSE_TIMESTAMP("%c", "Thu Dec 25 07:30:00 2008") = 07:30 UTC,
    # and with "America/Los_Angeles" as the third argument, 15:30 UTC.
    table = run(
        duck,
        "SELECT PARSE_TIMESTAMP('%c', 'Thu Dec 25 07:30:00 2008') AS utc, "
        "PARSE_TIMESTAMP('%c', 'Thu Dec 25 07:30:00 2008', 'America/Los_Angeles') AS la, "
        "PARSE_TIMESTAMP('%Y-%m-%d %H:%M:%S%z', '2024-05-17 10:11:12+0200') AS offset",
    )
    assert all(f.type == pa.timestamp("us", tz="UTC") for f in table.schema), table.schema
    assert table.to_pylist() == [
        {
            "utc": dt.datetime(2008, 12, 25, 7, 30, tzinfo=UTC),
            "la": dt.datetime(2008, 12, 25, 15, 30, tzinfo=UTC),
            "offset": dt.datetime(2024, 5, 17, 8, 11, 12, tzinfo=UTC),
        }
    ]


def test_extract_from_a_timestamp_literal_is_in_utc(duck):
    # sqlglot refuses EXTRACT from a TIMESTAMPTZ; converted to UTC first, it runs.
    got = row(
        duck,
        "SELECT EXTRACT(HOUR FROM TIMESTAMP '2024-01-13 23:30:00') AS h, "
        "EXTRACT(HOUR FROM TIMESTAMP '2024-01-13 23:30:00+05') AS h_offset",
    )
    assert got == {"h": 23, "h_offset": 18}


def test_safe_prefix_uses_the_safe_variant(duck):
    got = row(
        duck,
        "SELECT SAFE.PARSE_TIMESTAMP('%Y-%m-%d', 'not a date') AS bad, "
        "SAFE.PARSE_TIMESTAMP('%Y-%m-%d', '2024-05-17') AS good",
    )
    assert got == {"bad": None, "good": dt.datetime(2024, 5, 17, tzinfo=UTC)}


def test_safe_prefix_without_a_safe_variant_is_refused():
    with pytest.raises(InputError, match=r"SAFE\.LOG\(\.\.\.\) has no equivalent"):
        to_duckdb("SELECT SAFE.LOG(-1, 10) AS x")


def test_numeric_keeps_nine_decimals(duck):
    got = row(duck, "SELECT CAST('1.23456789' AS NUMERIC) AS n, CAST('2.5' AS NUMERIC(4, 1)) AS p")
    assert got == {"n": Decimal("1.234567890"), "p": Decimal("2.5")}


# --- errors -------------------------------------------------------------------------------


def test_syntax_error_names_the_query_and_the_parser_message():
    sql = "SELECT ts, temp\nFROM WHERE temp > 0"
    with pytest.raises(InputError) as caught:
        to_duckdb(sql)
    message = str(caught.value)
    assert "Syntax error" in message
    assert "Expected table name but got 'WHERE' (line 2, column 10)" in message
    assert "    SELECT ts, temp\n    FROM WHERE temp > 0" in message
    assert "\x1b[" not in message and "<Token" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_unterminated_string_is_a_syntax_error():
    with pytest.raises(InputError, match=r"(?s)Syntax error.*Error tokenizing.*SELECT 'abc"):
        to_duckdb("SELECT 'abc")


def test_bigquery_union_needs_distinct_or_all():
    with pytest.raises(InputError, match="Expected DISTINCT or ALL for Union"):
        to_duckdb("SELECT 1 AS x UNION SELECT 2")


@pytest.mark.parametrize(
    ("sql", "kinds"),
    [
        ("SELECT 1; SELECT 2", "SELECT, SELECT"),
        ("INSERT INTO weather.days VALUES (DATE '2024-01-01')", "INSERT"),
        ("DROP TABLE weather.days", "DROP"),
    ],
)
def test_anything_but_one_query_is_refused(sql, kinds):
    with pytest.raises(InputError, match=f"one query that returns rows.*got {kinds}"):
        to_duckdb(sql)


def test_untranslatable_construct_names_sqlglots_reason_and_the_query():
    sql = "SELECT APPROX_TOP_COUNT(x, 2) AS top FROM UNNEST([1, 1, 2]) AS x"
    with pytest.raises(InputError) as caught:
        to_duckdb(sql)
    message = str(caught.value)
    assert "cannot run the same way on the local DuckDB database" in message
    assert "APPROX_TOP_K cannot be transpiled to DuckDB" in message
    assert sql in message


@pytest.mark.parametrize("sql", ["", "  \n "])
def test_empty_query_is_refused(sql):
    with pytest.raises(InputError, match="query is empty"):
        to_duckdb(sql)
