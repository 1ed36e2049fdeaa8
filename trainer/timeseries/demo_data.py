"""Seattle's daily weather 2012-2015, as a table in an embedded DuckDB database.

The series is real public data (NOAA, via the Vega project) that the PyPI
package vega-datasets ships as a CSV file, so nothing is downloaded: 1,461
days of maximum and minimum temperature (°C), precipitation (mm), wind (m/s)
and the day's weather. Day-to-day weather makes it a real forecasting
problem: tomorrow's maximum differs from today's by 2.2 °C on average.

The database stands in for BigQuery: the BigQuery dataset `weather` is the
DuckDB schema `weather` (trainer.data.bigquery_sql drops the project part of
`project.dataset.table`).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

DATASET = "weather"
TABLE = "seattle_daily"
CSV = "_data/seattle-weather.csv"
COLUMNS = {
    "date": "DATE",
    "precipitation": "DOUBLE",
    "temp_max": "DOUBLE",
    "temp_min": "DOUBLE",
    "wind": "DOUBLE",
    "weather": "VARCHAR",
}


def weather_csv() -> Path:
    """The CSV file inside the installed vega-datasets package."""
    path = Path(str(resources.files("vega_datasets") / CSV))
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: reinstall the local extra (make venv) to get vega-datasets."
        )
    return path


def write_demo_database(path: str | Path) -> Path:
    """Create the DuckDB file at `path` holding weather.seattle_daily (the CSV's columns).

    Written to a temporary file and renamed, so a failure leaves no database behind.
    """
    import duckdb

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    tmp.unlink(missing_ok=True)
    types = ", ".join(f"'{name}': '{kind}'" for name, kind in COLUMNS.items())
    with duckdb.connect(str(tmp)) as connection:
        connection.execute(f"CREATE SCHEMA {DATASET}")
        connection.execute(
            f"CREATE TABLE {DATASET}.{TABLE} AS SELECT * FROM "
            f"read_csv(?, header = true, dateformat = '%Y/%m/%d', columns = {{{types}}})",
            [str(weather_csv())],
        )
    os.replace(tmp, path)
    return path
