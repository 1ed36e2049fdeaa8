"""The BigQuery REST API (v2) served from the project's DuckDB warehouse, for the real client.

The time-series pipeline ingests with google-cloud-bigquery; offline there is
no BigQuery, so this serves the requests that client makes for a query
(read from google-cloud-bigquery 3.47) on a DuckDB file, read-only:

- jobs.insert (POST projects/{p}/jobs): a query job, RUNNING; the query runs in a
  worker thread on its own read-only DuckDB connection. `configuration.dryRun`
  answers at once with the result schema.
- jobs.query (POST projects/{p}/queries): the same job, waited for up to timeoutMs,
  with the first page of rows when it is done (query_and_wait).
- jobs.get, jobs.cancel (the DuckDB query is interrupted).
- jobs.getQueryResults (GET projects/{p}/queries/{id}): waits up to timeoutMs (10 s by
  default, as BigQuery) for the job, then schema, totalRows and rows, paged with
  pageToken / startIndex / maxResults; `fields` selects top-level keys.
- tables.get and tabledata.list, for client.get_table / client.list_rows.

The SQL is BigQuery's: trainer.data.bigquery_sql transpiles it (`project.dataset.table`
reads the DuckDB table `dataset.table`, in any project), as the ingest step's
local engine does. Result types and cells are BigQuery's (sql_types). Errors have
BigQuery's shape and reasons (errors): bad SQL fails the job with invalidQuery and
the engine's message; a missing dataset or table fails it with notFound, named as
BigQuery names it; what the emulator does not do (DML, DDL, scripts, legacy SQL,
load / copy / extract jobs, destination tables, other API methods) is refused with
400 saying what it serves (checks). Every request is recorded in `requests`.

service holds BigQueryEmulator (the routes and REST methods); jobs, a job and its
result; warehouse, the DuckDB reads; paging, the page parameters.
"""
