"""Where the ingest query runs: BigQuery, or an embedded DuckDB file standing in for it offline.

Both engines take BigQuery Standard SQL and return a `pyarrow.Table`, through
`run(sql) -> (table, sql_as_run)`; `name` says which ran, for the manifest.
Every error the user can fix (bad SQL, unknown table or column, no
credentials, a missing database file) becomes an InputError with the
engine's own message and the query, without the client's stack trace.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pyarrow as pa

from serving.contracts.errors import InputError
from trainer.data.bigquery_sql import read_only_query, show_query, to_duckdb

if TYPE_CHECKING:
    import duckdb
    from google.cloud import bigquery

ENDPOINT_VARIABLE = "BIGQUERY_API_ENDPOINT"
DEMO_COMMAND = "make run PIPELINE=timeseries"

log = logging.getLogger(__name__)


class QueryEngine(Protocol):
    name: str

    def run(self, sql: str) -> tuple[pa.Table, str]:
        """Run BigQuery SQL `sql`; return its rows and the SQL actually executed."""
        ...


class DuckDBEngine:
    """Runs BigQuery SQL, transpiled by trainer.data.bigquery_sql, on a DuckDB file, read-only.

    Sessions use TimeZone=UTC, BigQuery's default, so that TIMESTAMP literals,
    EXTRACT and DATE_TRUNC on TIMESTAMPs give BigQuery's answers whatever the
    machine's local time zone; and never download DuckDB extensions, so a
    query that would need one fails at once, offline as online.
    """

    name = "duckdb"

    def __init__(self, database: str | Path):
        self.database = Path(database)
        if not self.database.is_file():
            raise InputError(
                f"Local database {str(self.database)!r} does not exist: `{DEMO_COMMAND}` "
                "creates the demo database under build/, or point local_database at your "
                "own DuckDB file (or leave it empty to query BigQuery)."
            )

    def run(self, sql: str) -> tuple[pa.Table, str]:
        import duckdb

        local_sql = to_duckdb(sql)
        log.info("Running on DuckDB %s:\n%s", self.database, local_sql)
        try:
            with sandboxed_connection(self.database) as connection:
                table = connection.sql(local_sql).to_arrow_table()
        except duckdb.Error as exc:
            raise InputError(
                f"DuckDB ({self.database}) could not run the query: {exc}\n"
                f"Query (BigQuery SQL):\n{show_query(sql)}\n"
                f"As run on DuckDB:\n{show_query(local_sql)}"
            ) from None
        return table, local_sql


class BigQueryEngine:
    """Runs the query as a BigQuery job and downloads the result as Arrow.

    Without a `client`, one is built on first use: in `project` (default: the
    credentials' project) and `location`, at the endpoint in
    BIGQUERY_API_ENDPOINT if set; an http:// endpoint is a local stand-in,
    reached with anonymous credentials. Results come through the BigQuery
    Storage API when google-cloud-bigquery-storage is installed, else through
    the REST API's pages.
    """

    name = "bigquery"

    def __init__(
        self, client: bigquery.Client | None = None, project: str = "", location: str = ""
    ):
        self._client = client
        self.project = project
        self.location = location

    @property
    def client(self) -> bigquery.Client:
        if self._client is None:
            self._client = _make_client(self.project, self.location)
        return self._client

    def run(self, sql: str) -> tuple[pa.Table, str]:
        from google.api_core import exceptions
        from google.auth.exceptions import RefreshError

        read_only_query(sql)  # before any request: the user's own credentials run it
        client = self.client
        log.info("Running on BigQuery (project %s):\n%s", client.project, sql)
        try:
            rows = client.query(sql, location=self.location or None).result()
            table = rows.to_arrow(create_bqstorage_client=_has_bigquery_storage())
        except exceptions.GoogleAPICallError as exc:
            raise InputError(
                f"BigQuery could not run the query ({exc.code} {type(exc).__name__}): "
                f"{_server_message(exc)}\nQuery:\n{show_query(sql)}"
            ) from None
        except RefreshError as exc:
            raise InputError(
                f"BigQuery credentials could not be refreshed ({exc}): run "
                "`gcloud auth application-default login` again."
            ) from None
        return table, sql


def engine_for(local_database: str, project: str, location: str = "") -> QueryEngine:
    """DuckDBEngine on `local_database` if one is given, else BigQueryEngine in `project`."""
    if local_database:
        return DuckDBEngine(local_database)
    return BigQueryEngine(project=project, location=location)


def _make_client(project: str, location: str) -> bigquery.Client:
    from google.auth.credentials import AnonymousCredentials
    from google.auth.exceptions import DefaultCredentialsError
    from google.cloud import bigquery

    options: dict = {"project": project or None, "location": location or None}
    endpoint = os.environ.get(ENDPOINT_VARIABLE, "")
    if endpoint:
        options["client_options"] = {"api_endpoint": endpoint}
        if endpoint.startswith("http://"):
            options["credentials"] = AnonymousCredentials()
    try:
        return bigquery.Client(**options)
    except DefaultCredentialsError as exc:
        raise InputError(
            "BigQuery needs credentials and a project, and found no usable default "
            f"credentials ({exc}): run `gcloud auth application-default login` (or set "
            "GOOGLE_APPLICATION_CREDENTIALS), and give the project (the project parameter or "
            "GOOGLE_CLOUD_PROJECT). To run offline instead, give a local DuckDB database."
        ) from None
    except OSError as exc:  # "Project was not passed and could not be determined"
        raise InputError(
            f"No BigQuery project: {exc} Set the project parameter or GOOGLE_CLOUD_PROJECT "
            "(or `gcloud config set project my-project`)."
        ) from None


def _server_message(exc) -> str:
    """BigQuery's own words: each error's reason and message, else the exception's message."""
    details = [
        f"{e.get('reason', 'error')}: {e['message']}"
        for e in (exc.errors or [])
        if isinstance(e, dict) and e.get("message")
    ]
    return "; ".join(dict.fromkeys(details)) or exc.message


def _has_bigquery_storage() -> bool:
    try:
        return importlib.util.find_spec("google.cloud.bigquery_storage") is not None
    except ModuleNotFoundError:
        return False


def sandboxed_connection(database: str | Path) -> duckdb.DuckDBPyConnection:
    """A read-only DuckDB connection to `database` that can read nothing else, in UTC.

    No host files (read_csv, read_text, read_blob, glob, COPY, ATTACH of a path)
    and no extension downloads; DuckDB refuses to turn external access back on
    while the database is open, and `read_only_query` lets no SET through anyway.
    (lock_configuration would also freeze the TimeZone of the other connections
    DuckDB shares the database instance with.)
    """
    import duckdb

    connection = duckdb.connect(
        str(database),
        read_only=True,
        config={
            "enable_external_access": False,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        },
    )
    connection.execute("SET TimeZone = 'UTC'")
    return connection
