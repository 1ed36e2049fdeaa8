"""Vertex AI's BigQuery output layout, written offline to the DuckDB file that stands in for
BigQuery (`local_database`, as ingest reads it).

For `bq://project` Vertex creates the dataset
`prediction_<model display name>_<job create time>` (made a valid dataset name; the time
as YYYY_MM_DDThh_mm_ss_sssZ) with two tables: `predictions`, the instance's columns and
`prediction`, and `errors`, the instance's columns and `errors`, a STRUCT of the
google.rpc.Status `code` and `message` (aiplatform_v1 BatchPredictionJob.OutputConfig).
Here the dataset is a DuckDB schema. Rows are staged as JSON lines on disk as the job
goes (memory stays bounded); `commit()` creates the schema and both tables in one
transaction, so a failed job leaves no dataset behind, and a half-made one never shows.
An instance that is not an object (a line that could not be read) is the column `instance`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import tempfile
from pathlib import Path

from serving.contracts.errors import InputError
from trainer.batch_prediction.output_layout import ERRORS, RESULTS, finite_line
from trainer.batch_prediction.sources import BIGQUERY_PREFIX

_EMPTY = {RESULTS: "prediction JSON", ERRORS: "errors STRUCT(code INTEGER, message VARCHAR)"}
_TABLES = {RESULTS: "predictions", ERRORS: "errors"}


def dataset_name(model_display_name: str, created: dt.datetime) -> str:
    """The dataset Vertex AI creates for a job's BigQuery output."""
    stamp = created.astimezone(dt.UTC).strftime("%Y_%m_%dT%H_%M_%S_") + (
        f"{created.microsecond // 1000:03d}Z"
    )
    return f"prediction_{re.sub(r'[^A-Za-z0-9_]', '_', model_display_name)}_{stamp}"


class TableOutput:
    """The `predictions` and `errors` tables of a new dataset in the DuckDB file `database`."""

    def __init__(self, destination: str, database: str, dataset: str) -> None:
        project = destination[len(BIGQUERY_PREFIX) :]
        if not database:
            raise InputError(
                f"output_uri {destination!r} is BigQuery: the local target writes BigQuery output "
                "to the DuckDB file standing in for it; give local_database (Vertex AI runs "
                "write to BigQuery itself)."
            )
        if not project or "." in project:
            raise InputError(
                f"output_uri {destination!r}: give bq://project, in which a new dataset is "
                "created for the job, as Vertex AI does."
            )
        if not Path(database).is_file():
            raise InputError(f"Local database {database!r} does not exist: check local_database.")
        self.database, self.dataset = database, dataset
        self.uri = f"{BIGQUERY_PREFIX}{project}.{dataset}"
        self._staging = Path(tempfile.mkdtemp(prefix="batch-prediction-"))
        self._files = {kind: (self._staging / f"{kind}.jsonl").open("w") for kind in _TABLES}
        self.counts = {RESULTS: 0, ERRORS: 0}

    def write(self, kind: str, line: dict) -> None:
        kind, line = finite_line(kind, line)
        instance = line["instance"]
        row = dict(instance) if isinstance(instance, dict) else {"instance": instance}
        if kind == RESULTS:
            row["prediction"] = line["prediction"]
        else:
            row["errors"] = line["error"]
        self._files[kind].write(json.dumps(row, allow_nan=False) + "\n")
        self.counts[kind] += 1

    def commit(self) -> str:
        """Both tables, made in one transaction; the dataset's bq:// URI."""
        import duckdb

        for handle in self._files.values():
            handle.close()
        try:
            with duckdb.connect(self.database) as connection:
                connection.execute("BEGIN TRANSACTION")
                connection.execute(f'CREATE SCHEMA "{self.dataset}"')
                for kind, table in _TABLES.items():
                    name = f'"{self.dataset}"."{table}"'
                    if self.counts[kind]:
                        path = str(self._staging / f"{kind}.jsonl")
                        connection.execute(  # columns and types from every row, not a sample
                            f"CREATE TABLE {name} AS SELECT * FROM read_json_auto(?, "
                            "format='newline_delimited', sample_size=-1, union_by_name=true)",
                            [path],
                        )
                    else:
                        connection.execute(f"CREATE TABLE {name} ({_EMPTY[kind]})")
                connection.execute("COMMIT")
        except duckdb.Error as exc:
            locked = "lock" in str(exc).lower()
            raise InputError(
                f"The predictions could not be written to {self.database}: {exc}"
                + (" (close the program that has it open, then rerun)" if locked else "")
            ) from None
        finally:
            shutil.rmtree(self._staging, ignore_errors=True)
        return self.uri

    def abort(self) -> None:
        for handle in self._files.values():
            handle.close()
        shutil.rmtree(self._staging, ignore_errors=True)
