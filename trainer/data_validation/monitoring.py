"""Monitoring of served traffic: skew from the training data, drift from the previous window.

The request-response log (`request_log_reader`) gives the instances a model answered.
The latest window (`window_hours` back from the newest record) is described with the
case study's own served statistics (`trainer/<case>/statistics.py`: the same derived
features as at ingest, e.g. an image's brightness or a text's length) and compared,
with Vertex AI Model Monitoring's distances, with

- the model's training statistics (its data baseline): training-serving skew;
- the window before it: prediction drift.

A distance over its threshold is an alert. So is a share of instances the model's
input could not be read from (bad base64, a wrong key, a ragged window) above the skew
threshold: training read every example it kept, and traffic the features cannot describe
would otherwise pass unseen. With fewer than `min_instances` instances in the latest
window nothing is compared: a handful of requests says nothing of a distribution, and
would only raise false alerts.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from serving.contracts.errors import InputError
from serving.contracts.limits import check_values
from serving.contracts.model_metadata import read_model_metadata
from trainer.data_validation.baseline import model_baseline
from trainer.data_validation.drift import (
    DEFAULT_THRESHOLD,
    FeatureDistance,
    check_thresholds,
    feature_distances,
)
from trainer.data_validation.report import write_verdict_report
from trainer.data_validation.request_log_reader import LoggedRequest, read_request_log
from trainer.distribution.job_dirs import local_path
from trainer.parameter_limits import MONITORING_LIMITS, PIPELINE_LIMITS

DEFAULT_WINDOW_HOURS = 24.0
DEFAULT_MIN_INSTANCES = 20


@dataclass
class Monitoring:
    model: str
    instances: int  # in the latest window
    previous_instances: int
    skew: list[FeatureDistance] = field(default_factory=list)
    drift: list[FeatureDistance] = field(default_factory=list)
    note: str = ""  # why nothing was compared, if so

    @property
    def alerts(self) -> list[str]:
        return [
            f"{kind} in {d.describe()}"
            for kind, found in (("skew", self.skew), ("drift", self.drift))
            for d in found
            if d.exceeded
        ]

    def summary(self) -> str:
        if self.note:
            return self.note
        alerts = self.alerts
        verdict = f"{len(alerts)} alerts: " + "; ".join(alerts) if alerts else "no alert"
        return f"{self.model}: {self.instances} instances in the latest window, {verdict}"


def traffic_monitoring(
    model_dir: str | Path,
    model: str,
    request_log: str,
    report_path: str | Path,
    *,
    version: str = "",
    window_hours: float = DEFAULT_WINDOW_HOURS,
    skew_threshold: float = DEFAULT_THRESHOLD,
    drift_threshold: float = DEFAULT_THRESHOLD,
    feature_thresholds: Mapping[str, float] | None = None,
    min_instances: int = DEFAULT_MIN_INSTANCES,
) -> Monitoring:
    """Compare the latest window of `model`'s logged traffic with its training data and the
    window before; write the report to `report_path`."""
    check_values(
        {
            "window_hours": window_hours,
            "skew_threshold": skew_threshold,
            "drift_threshold": drift_threshold,
            "min_instances": min_instances,
        },
        {**PIPELINE_LIMITS, **MONITORING_LIMITS},
    )
    if not str(model_dir):
        raise InputError(f"Model {model!r} has no champion: no model is deployed to monitor.")
    model_dir = local_path(model_dir, "The model")  # gs:// -> /gcs on Vertex AI
    baseline = model_baseline(model_dir, "The model")
    if baseline is None:
        raise InputError(
            f"The model at {model_dir} keeps no data baseline, so there is nothing to compare "
            "its traffic with: retrain it with a pipeline (it validates and keeps one)."
        )
    training = baseline[1]
    thresholds = dict(feature_thresholds or {})
    for name, default in (("skew", skew_threshold), ("drift", drift_threshold)):
        check_thresholds(default, thresholds, training["features"], f"The {name} thresholds")
    metadata = read_model_metadata(model_dir)
    width = dt.timedelta(hours=window_hours)
    read = read_request_log(request_log, model, version, within=2 * width)
    if not read.requests:
        raise InputError(
            f"No request of model {model!r}{f' version {version}' if version else ''} in the "
            f"request log {request_log} ({read.files} files, {read.bad_lines} bad lines): "
            "send it traffic through a server started with --request-log."
        )
    latest, previous = _windows(read.requests, width)
    served = _served(training["dataset"]["case"], latest, request_log, metadata)
    result = Monitoring(
        model, served["dataset"]["examples"], sum(len(r.instances) for r in previous)
    )
    if result.instances < min_instances:
        result.note = (
            f"{model}: only {result.instances} instances in the latest {window_hours:g} h, fewer "
            f"than the {min_instances} needed to compare distributions: nothing was compared"
        )
    else:
        result.skew = [
            _unreadable_share(served, skew_threshold),
            *feature_distances(training, served, skew_threshold, thresholds),
        ]
        if result.previous_instances >= min_instances:
            before = _served(training["dataset"]["case"], previous, request_log, metadata)
            result.drift = feature_distances(before, served, drift_threshold, thresholds)
    _report(result, report_path, served, request_log, window_hours, read.bad_lines)
    return result


class MonitoringAlert(InputError):
    """Served traffic moved beyond a threshold: the message names each feature."""


def raise_on_alerts(result: Monitoring) -> None:
    """MonitoringAlert listing the alerts of `result`, if any (a monitoring run fails so)."""
    if result.alerts:
        lines = "\n".join(f"  - {alert}" for alert in result.alerts)
        raise MonitoringAlert(f"Model {result.model!r}: served traffic moved:\n{lines}")


def _windows(
    requests: list[LoggedRequest], width: dt.timedelta
) -> tuple[list[LoggedRequest], list[LoggedRequest]]:
    end = requests[-1].time
    latest = [r for r in requests if r.time > end - width]
    previous = [r for r in requests if end - 2 * width < r.time <= end - width]
    return latest, previous


UNREADABLE = "unreadable instances"


def _unreadable_share(served: dict, threshold: float) -> FeatureDistance:
    """The share of served instances no feature could be read from (0 in training data)."""
    counts = served["details"]["instances"]
    share = counts["unreadable"] / counts["served"] if counts["served"] else 0.0
    return FeatureDistance(UNREADABLE, "share", round(share, 6), threshold, share > threshold > 0)


def _served(case: str, requests: list[LoggedRequest], source: str, metadata: dict) -> dict:
    module = importlib.import_module(f"trainer.{case}.statistics")
    instances = [instance for request in requests for instance in request.instances]
    return module.served_statistics(instances, source, metadata)


def _report(
    result: Monitoring,
    path: str | Path,
    served: dict,
    request_log: str,
    window_hours: float,
    bad_lines: int,
) -> None:
    facts = [
        ("model", result.model),
        ("request log", request_log),
        ("window", f"the latest {window_hours:g} h"),
        ("instances", f"{result.instances} (the window before: {result.previous_instances})"),
        ("bad log lines skipped", str(bad_lines)),
    ]
    distances = {"the training data (skew)": result.skew}
    if result.drift or result.previous_instances:
        distances["the previous window (drift)"] = result.drift
    verdict = result.summary() if not result.alerts else "Alert: " + result.summary()
    write_verdict_report(
        path, f"Model monitoring: {result.model}", verdict, facts, [], distances, served
    )
