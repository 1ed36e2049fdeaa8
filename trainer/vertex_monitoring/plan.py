"""The inputs of a model's Vertex AI monitoring job, from its data baseline and the settings.

- The fields watched: the case's instance layout (`trainer/<case>/vertex_monitoring.py`).
- Their thresholds, for skew and drift alike: the pipeline's `drift_thresholds` for the
  baseline feature a field has the distribution of, else `drift_threshold` (Vertex AI's
  default is 0.3), as data validation applies them; a threshold of 0 leaves the field
  unwatched, as it does there.
- The analysis instance schema (YAML, OpenAPI as Vertex reads it): every field of the
  instance in order, typed number or string.
- The training data Vertex computes the skew baseline from: Vertex takes a dataset, not
  statistics, so `training_instances.csv` holds, for each field, TRAINING_ROWS values
  drawn from the baseline's training statistics: a numeric feature's 0th to 100th
  percentiles (each column in its own order; the case layouts watch numeric fields
  only). Vertex compares each field's distribution on its own, so
  the file gives it the baseline's distributions in 101 rows.

Both files go to the step's output folder (under the pipeline root), which Vertex reads.
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import io
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from serving.contracts.errors import InputError
from serving.contracts.limits import refuse
from serving.contracts.model_metadata import read_model_metadata
from trainer.data_validation.baseline import model_baseline
from trainer.data_validation.drift import check_thresholds
from trainer.data_validation.feature_stats import NUMERIC
from trainer.parameter_limits import PIPELINE_LIMITS, email_list_problem
from trainer.vertex_monitoring.instances import InstanceLayout

SCHEMA_FILE = "analysis_instance_schema.yaml"
TRAINING_FILE = "training_instances.csv"
TRAINING_FORMAT = "csv"
TRAINING_ROWS = 101
_SETTINGS = ("monitoring_sample_rate", "monitoring_interval_hours", "drift_threshold")


@dataclass(frozen=True)
class VertexMonitoringPlan:
    """What the monitoring job is given; `reason` says why there is none ("" when there is)."""

    sample_rate: float
    interval_hours: int
    alert_emails: list[str]
    thresholds: dict[str, float] = field(default_factory=dict)  # field -> skew/drift threshold
    analysis_schema_uri: str = ""
    schema_digest: str = ""  # of the schema's text: a job with the same one reads alike
    training_data_uri: str = ""  # "" when the baseline has no values (drift only)
    training_data_format: str = TRAINING_FORMAT
    unwatched: dict[str, str] = field(default_factory=dict)  # baseline feature -> why not
    reason: str = ""

    def summary(self) -> dict:
        """What the step's output metadata shows."""
        return {
            "configured": not self.reason,
            "reason": self.reason,
            "features": self.thresholds,
            "not_watched_by_vertex": self.unwatched,
            "sample_rate": self.sample_rate,
            "interval_hours": self.interval_hours,
            "alert_emails": self.alert_emails,
            "analysis_instance_schema": self.analysis_schema_uri,
            "training_instances": self.training_data_uri,
        }


def vertex_monitoring_plan(
    model_dir: str | Path,
    out_dir: str | Path,
    out_uri: str,
    *,
    enabled: bool,
    sample_rate: float,
    interval_hours: int,
    alert_emails: list,
    drift_threshold: float,
    drift_thresholds: dict,
) -> VertexMonitoringPlan:
    """The plan for the model at `model_dir`; its files are written to `out_dir` (the local
    path of `out_uri`, the gs:// URI Vertex reads them from). InputError for bad settings."""
    values = dict(zip(_SETTINGS, (sample_rate, interval_hours, drift_threshold), strict=True))
    problems = [PIPELINE_LIMITS[name].problem(name, value) for name, value in values.items()]
    problems.append(email_list_problem("monitoring_alert_emails", alert_emails))
    refuse([problem for problem in problems if problem])
    plan = VertexMonitoringPlan(sample_rate, int(interval_hours), list(alert_emails))
    if not enabled:
        return _without(plan, "model_monitoring is off")
    baseline = model_baseline(model_dir, "The trained model")
    if baseline is None:
        return _without(plan, "the model keeps no data baseline to compare traffic with")
    statistics = baseline[1]
    check_thresholds(drift_threshold, drift_thresholds, statistics["features"], "drift_thresholds")
    case = statistics["dataset"]["case"]
    layout = _case_module(case).instance_layout(read_model_metadata(model_dir), statistics)
    unwatched = dict(layout.unwatched)
    thresholds = {}
    for instance_field in layout.fields:
        threshold = float(drift_thresholds.get(instance_field.source, drift_threshold))
        if threshold > 0:
            thresholds[instance_field.name] = threshold
        else:
            unwatched[instance_field.source] = "its threshold is 0 (drift_thresholds)"
    plan = replace(plan, thresholds=thresholds, unwatched=unwatched)
    if not thresholds:
        return _without(plan, f"Vertex AI can watch no field of a {case} model's instances")
    schema = analysis_schema(layout, statistics)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / SCHEMA_FILE).write_text(schema)
    rows = training_instances(layout, statistics)
    if rows:
        (out / TRAINING_FILE).write_text(rows)
    return replace(
        plan,
        analysis_schema_uri=f"{out_uri.rstrip('/')}/{SCHEMA_FILE}",
        schema_digest=hashlib.sha256(schema.encode()).hexdigest()[:16],
        training_data_uri=f"{out_uri.rstrip('/')}/{TRAINING_FILE}" if rows else "",
    )


def analysis_schema(layout: InstanceLayout, statistics: dict) -> str:
    """The analysis instance schema (YAML): the instance's fields in order, with their types."""
    features = statistics["features"]
    properties = {
        f.name: {"type": "number" if features[f.source]["type"] == NUMERIC else "string"}
        for f in layout.fields
    }
    schema = {"type": layout.kind, "properties": properties, "required": list(properties)}
    return yaml.safe_dump(schema, sort_keys=False)


def training_instances(layout: InstanceLayout, statistics: dict) -> str:
    """CSV (a header of the field names) of TRAINING_ROWS instances with the baseline's
    distributions, or "" when a field's feature has no training values."""
    samples = [_sample(statistics["features"][f.source]["stats"]) for f in layout.fields]
    if not all(samples):
        return ""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([f.name for f in layout.fields])
    for row in range(TRAINING_ROWS):
        # column i starts i values further on: each column holds its sample once, rows differ
        writer.writerow([sample[(row + i) % TRAINING_ROWS] for i, sample in enumerate(samples)])
    return out.getvalue()


def _sample(stats: dict) -> list:
    """TRAINING_ROWS values with a numeric feature's training distribution (its 101
    percentiles; the layouts watch numeric fields only); [] if it has none."""
    if not stats.get("count"):
        return []
    return [float(v) for v in stats["percentiles"]]


def _case_module(case: str):
    try:
        return importlib.import_module(f"trainer.{case}.vertex_monitoring")
    except ModuleNotFoundError as missing:
        if missing.name != f"trainer.{case}.vertex_monitoring":
            raise
        raise InputError(
            f"The model's data baseline is of case study {case!r}, which does not say what "
            f"Vertex AI can monitor: add trainer/{case}/vertex_monitoring.py."
        ) from None


def _without(plan: VertexMonitoringPlan, reason: str) -> VertexMonitoringPlan:
    return replace(plan, thresholds={}, reason=reason)
