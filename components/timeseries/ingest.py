"""Ingest: a BigQuery query or table -> Dataset (Parquet + manifest.json)."""

from kfp import dsl
from kfp.dsl import Dataset, Output

from components.container_images import PIPELINE_IMAGE


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def ingest_bigquery(
    source_query: str,
    dataset: Output[Dataset],
    local_database: str = "",
    project: str = "",
    location: str = "",
    time_column: str = "ts",
):
    """Runs `source_query` (BigQuery Standard SQL, or a project.dataset.table) into `dataset`.

    With `local_database` (a DuckDB file) the query is transpiled and run on it,
    offline; otherwise on BigQuery in `project` (default: the credentials'
    project, on Vertex AI the run's own).

    `time_column` is the series' time column, as the case's config (TimeseriesTrainConfig) names
    it; its range goes in the manifest ("": the first TIMESTAMP or DATE column).

    Out: dataset/data.parquet and dataset/manifest.json (engine, the query as
    given and as run, row count, columns and types, time range).
    """
    from serving.contracts.logs import setup_logging
    from trainer.data.query_engines import engine_for
    from trainer.timeseries.ingest import ingest_query

    setup_logging()
    engine = engine_for(local_database, project, location)
    manifest = ingest_query(source_query, dataset.path, engine, time_column=time_column)
    dataset.metadata.update(
        {
            "engine": manifest["engine"],
            "row_count": manifest["row_count"],
            "columns": [column["name"] for column in manifest["columns"]],
            "time_range": manifest["time_range"],
        }
    )
