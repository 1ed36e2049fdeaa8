"""Model monitoring: a deployed model's served traffic against its training data (skew) and
the previous window (drift). Scheduled like the case studies' pipelines; fails on alerts."""

from kfp import dsl
from kfp.dsl import HTML

from components.monitor_traffic import monitor_served_traffic
from pipelines.targets import Target, never_cached

PIPELINE_NAME = "model-monitoring"


def build_pipeline(target: Target):
    """The monitoring pipeline for `target` (local runner or Vertex AI); same parameters."""

    @dsl.pipeline(name=PIPELINE_NAME, description=__doc__)
    def monitoring_pipeline(
        model_name: str,  # the registered model, e.g. vision; its champion is monitored
        request_log_uri: str,  # the server's request-response log: gs:// (or a local directory)
        registry_uri: str = "",  # local target: the local registry directory
        window_hours: float = 24.0,  # the latest window of traffic compared
        skew_threshold: float = 0.3,  # vs the training data; Vertex AI's default
        drift_threshold: float = 0.3,  # vs the window before; Vertex AI's default
        feature_thresholds: dict = {},  # noqa: B006 (per feature, both; kfp needs a literal)
        min_instances: int = 20,  # fewer in the window: nothing is compared
    ) -> HTML:
        monitor = monitor_served_traffic(
            model_uri=target.champion(model_name, registry_uri),
            model_name=model_name,
            request_log_uri=request_log_uri,
            window_hours=window_hours,
            skew_threshold=skew_threshold,
            drift_threshold=drift_threshold,
            feature_thresholds=feature_thresholds,
            min_instances=min_instances,
        ).set_display_name("monitor")
        never_cached(monitor)  # reads a log that grows under the same name
        return monitor.outputs["report"]

    return target.notifying(monitoring_pipeline)
