"""Ingest: a CSV or JSON Lines file of labelled texts (gs:// or local) -> Dataset."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Output

from components.container_images import PIPELINE_IMAGE


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def ingest_text_file(
    source_uri: str,
    dataset: Output[Dataset],
    statistics: Output[Artifact],
    statistics_report: Output[HTML],
    text_field: str = "text",
    label_field: str = "label",
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
    max_chars: int = 2000,
    min_examples_per_class: int = 5,
    local_database: str = "",
    bigquery_project: str = "",
):
    """Reads the (text, label) rows at `source_uri`, drops and counts unusable ones, splits.

    `source_uri`: a .csv or .jsonl file (gs:// or local), or bq://<table or
    query> run on BigQuery in `bigquery_project` (or on the DuckDB file
    `local_database`, offline).

    Out: dataset/examples.jsonl (text, label, split; stratified by label,
    deterministic) and dataset/manifest.json (classes, counts per split and
    class, rows dropped by reason, texts truncated to `max_chars`); statistics
    (statistics.json, and statistics.pb for TFDV: classes, text lengths, words,
    non-ASCII share, top tokens) and statistics_report (its HTML view).
    """
    from serving.contracts.logs import setup_logging
    from trainer.data_validation.artifacts import save_statistics
    from trainer.text.ingest import ingest_text_file as ingest
    from trainer.text.statistics import dataset_statistics

    setup_logging()
    manifest = ingest(
        source_uri,
        dataset.path,
        text_field=text_field,
        label_field=label_field,
        validation_fraction=validation_fraction,
        test_fraction=test_fraction,
        max_chars=max_chars,
        min_examples_per_class=min_examples_per_class,
        local_database=local_database,
        bigquery_project=bigquery_project,
    )
    statistics_report.uri += ".html"
    described = dataset_statistics(dataset.path, manifest)
    statistics.metadata.update(save_statistics(described, statistics.path, statistics_report.path))
    dataset.metadata.update(
        {
            "source_uri": source_uri,
            "classes": manifest["classes"],
            "rows_read": manifest["rows_read"],
            "dropped": sum(manifest["dropped_by_reason"].values()),
        }
    )
