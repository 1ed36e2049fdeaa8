"""Validate: the new data's statistics against the champion's schema (or a pinned one)."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Input, Metrics, Output

from components.container_images import PIPELINE_IMAGE


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def validate_data(
    statistics: Input[Artifact],
    data_baseline: Output[Artifact],
    report: Output[HTML],
    metrics: Output[Metrics],
    champion_uri: str = "",
    schema_uri: str = "",
    drift_action: str = "warn",
    drift_threshold: float = 0.3,
    drift_thresholds: dict = {},  # noqa: B006 (kfp needs a literal)
):
    """Fails the run, before training, when the data breaks the schema; measures drift.

    The schema: `schema_uri` (a schema.json the user pinned, local or gs://), else
    the champion's (`champion_uri`), else inferred from this data. Drift: each
    feature's distance from the champion's training statistics (L-infinity for
    categorical features, Jensen-Shannon divergence for numerical ones, as Vertex AI
    Model Monitoring measures them) against `drift_threshold`, or the feature's own
    in `drift_thresholds`; over it, `drift_action` "warn" logs and "fail" stops.

    Out: data_baseline (the schema in force and this data's statistics, which the
    trained model keeps), report (HTML, written also when the run stops; its
    metadata has the summary, the schema's source, the distances and the drifted
    features), metrics (the number of anomalies, each distance as drift_<feature>).
    """
    from serving.contracts.logs import setup_logging
    from trainer.data_validation.validation import stop_on_anomalies, validate_dataset

    setup_logging()
    report.uri += ".html"  # so that a browser opens the file as a page, locally too
    result = validate_dataset(
        statistics.path,
        data_baseline.path,
        report.path,
        champion_uri=champion_uri,
        schema_uri=schema_uri,
        drift_action=drift_action,
        drift_threshold=drift_threshold,
        drift_thresholds=drift_thresholds,
    )
    metrics.log_metric("anomalies", len(result.anomalies))
    for distance in result.distances:
        metrics.log_metric(f"drift_{distance.feature}", distance.distance)
    report.metadata.update(
        {
            "summary": result.summary(),
            "schema": result.schema_source,
            "anomalies": len(result.anomalies),
            "distances": {d.feature: d.distance for d in result.distances},
            "drifted": [d.feature for d in result.drifted],
        }
    )
    stop_on_anomalies(result, drift_action)  # after the metrics: a stopped run has them too
