"""Monitor: a deployed model's logged traffic against its training data and the window before."""

from kfp import dsl
from kfp.dsl import HTML, Metrics, Output

from components.container_images import PIPELINE_IMAGE


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def monitor_served_traffic(
    model_uri: str,
    model_name: str,
    request_log_uri: str,
    report: Output[HTML],
    metrics: Output[Metrics],
    window_hours: float = 24.0,
    skew_threshold: float = 0.3,
    drift_threshold: float = 0.3,
    feature_thresholds: dict = {},  # noqa: B006 (kfp needs a literal)
    min_instances: int = 20,
):
    """Fails when a feature's skew or drift is over its threshold, so that the run alerts.

    `model_uri`: the champion (a directory, or gs:// on Vertex AI) whose data baseline
    holds the training statistics; `request_log_uri`: the server's request-response
    log (docs/request-log.md), a directory or gs://. The latest `window_hours` of
    `model_name`'s requests are compared with the training data (skew) and with the
    window before (drift), with Vertex AI Model Monitoring's distances.

    Out: report (HTML, written also when the step fails), metrics (instances, and each
    distance as skew_<feature> and drift_<feature>).
    """
    from serving.contracts.logs import setup_logging
    from trainer.data_validation.monitoring import raise_on_alerts, traffic_monitoring

    setup_logging()
    report.uri += ".html"  # so that a browser opens the file as a page, locally too
    result = traffic_monitoring(
        model_uri,
        model_name,
        request_log_uri,
        report.path,
        window_hours=window_hours,
        skew_threshold=skew_threshold,
        drift_threshold=drift_threshold,
        feature_thresholds=feature_thresholds,
        min_instances=min_instances,
    )
    metrics.log_metric("instances", result.instances)
    for kind, found in (("skew", result.skew), ("drift", result.drift)):
        for distance in found:
            metrics.log_metric(f"{kind}_{distance.feature}", distance.distance)
    report.metadata["summary"] = result.summary()
    raise_on_alerts(result)
