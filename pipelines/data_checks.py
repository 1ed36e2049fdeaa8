"""The data validation step every case-study pipeline runs between ingest and training."""

from __future__ import annotations

from dataclasses import dataclass

from kfp import dsl

from components.validate_data import validate_data
from pipelines.targets import Channel


@dataclass(frozen=True)
class DataChecks:
    """What the data is checked against: the pipeline parameters so named."""

    schema_uri: Channel  # a pinned schema.json (local or gs://); "": the champion's
    drift_action: Channel  # "warn" or "fail" when drift is over a threshold
    drift_threshold: Channel  # for every feature; Vertex AI Model Monitoring's default 0.3
    drift_thresholds: Channel  # {feature: threshold}, overriding it


def validate(statistics: Channel, champion_uri: Channel, checks: DataChecks) -> dsl.PipelineTask:
    """The validation step: stops the run before training on anomalies (or drift, if "fail")."""
    return validate_data(
        statistics=statistics,
        champion_uri=champion_uri,
        schema_uri=checks.schema_uri,
        drift_action=checks.drift_action,
        drift_threshold=checks.drift_threshold,
        drift_thresholds=checks.drift_thresholds,
    ).set_display_name("validate")
