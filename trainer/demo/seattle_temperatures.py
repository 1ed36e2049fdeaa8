"""Seattle's hourly air temperatures in 2010, as a table in an embedded DuckDB database.

The series is real public data (NOAA, via the Vega project) that the PyPI
package vega-datasets ships as a CSV file, so nothing is downloaded. It has
8,759 hourly readings in °F over the 8,760 hours of the year: the hour the
clocks went forward (2010-03-14 02:00) is missing, a real gap that the
pipeline's re-indexing finds and imputes.

The database stands in for BigQuery: the BigQuery dataset `weather` is the
DuckDB schema `weather` (trainer.bigquery_sql drops the project part of
`project.dataset.table`).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

DATASET = "weather"
TABLE = "seattle_temps"
CSV = "_data/seattle-temps.csv"


def temperatures_csv() -> Path:
    """The CSV file inside the installed vega-datasets package (columns: date, temp)."""
    path = Path(str(resources.files("vega_datasets") / CSV))
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: reinstall the local extra (make venv) to get vega-datasets."
        )
    return path


def write_demo_database(path: str | Path) -> Path:
    """Create the DuckDB file at `path` with weather.seattle_temps (ts TIMESTAMP, temp_f DOUBLE).

    Written to a temporary file and renamed, so a failure leaves no database behind.
    """
    import duckdb

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    tmp.unlink(missing_ok=True)
    with duckdb.connect(str(tmp)) as connection:
        connection.execute(f"CREATE SCHEMA {DATASET}")
        connection.execute(
            f"""CREATE TABLE {DATASET}.{TABLE} AS
            SELECT strptime(date, '%Y/%m/%d %H:%M') AS ts, CAST(temp AS DOUBLE) AS temp_f
            FROM read_csv(?, header = true, columns = {{'date': 'VARCHAR', 'temp': 'DOUBLE'}})""",
            [str(temperatures_csv())],
        )
    os.replace(tmp, path)
    return path
