"""Ingest: a BigQuery query or table -> Dataset (Parquet + manifest.json)."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Output

from components.container_images import PIPELINE_IMAGE


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def ingest_bigquery(
    source_query: str,
    dataset: Output[Dataset],
    statistics: Output[Artifact],
    statistics_report: Output[HTML],
    local_database: str = "",
    project: str = "",
    location: str = "",
    time_column: str = "ts",
    target_column: str = "value",
    frequency: str = "",
):
    """Runs `source_query` (BigQuery Standard SQL, or a project.dataset.table) into `dataset`.

    With `local_database` (a DuckDB file) the query is transpiled and run on it,
    offline; otherwise on BigQuery in `project` (default: the credentials'
    project, on Vertex AI the run's own).

    `time_column`, `target_column` and `frequency` are the series' as the case's config
    (TimeseriesTrainConfig) names them; the time range goes in the manifest ("": the
    first TIMESTAMP or DATE column), and the statistics describe the series.

    Out: dataset/data.parquet and dataset/manifest.json (engine, the query as
    given and as run, row count, columns and types, time range); statistics
    (statistics.json, and statistics.pb for TFDV: every column, the series report,
    the target by season) and statistics_report (its HTML view).
    """
    from serving.contracts.logs import setup_logging
    from trainer.data.query_engines import engine_for
    from trainer.data_validation.artifacts import save_statistics
    from trainer.timeseries.ingest import ingest_query
    from trainer.timeseries.statistics import dataset_statistics

    setup_logging()
    engine = engine_for(local_database, project, location)
    manifest = ingest_query(source_query, dataset.path, engine, time_column=time_column)
    statistics_report.uri += ".html"
    described = dataset_statistics(dataset.path, manifest, time_column, target_column, frequency)
    statistics.metadata.update(save_statistics(described, statistics.path, statistics_report.path))
    dataset.metadata.update(
        {
            "engine": manifest["engine"],
            "row_count": manifest["row_count"],
            "columns": [column["name"] for column in manifest["columns"]],
            "time_range": manifest["time_range"],
        }
    )
