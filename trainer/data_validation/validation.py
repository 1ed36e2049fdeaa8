"""The validation step: new data against the champion's schema (or a pinned one), before training.

1. The schema in force: the file `schema_uri` names (pinned by the user), else the
   one kept with the champion (`trainer.data_validation.baseline`), else one
   inferred from this data (the first run).
2. Anomalies (`anomalies`) stop the run: DataAnomalies names each feature, what was
   expected and what was found.
3. Drift: each feature's distance from the champion's training statistics
   (`drift`), against the thresholds; over a threshold, `drift_action` "warn" logs
   it and "fail" stops the run.
4. Out, always (the report also when the run stops): the report page, and the
   data baseline the model about to be trained keeps: the schema in force and this
   data's statistics. `validate_dataset` writes them and returns the verdict;
   `stop_on_anomalies` then stops the run, so that the step records its metrics
   first, a stopped run's included.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from serving.contracts.errors import InputError
from serving.contracts.limits import check_values
from trainer.data_validation.anomalies import Anomaly, find_anomalies
from trainer.data_validation.baseline import model_baseline
from trainer.data_validation.drift import FeatureDistance, check_thresholds, feature_distances
from trainer.data_validation.report import write_verdict_report
from trainer.data_validation.schema import infer_schema, read_schema, write_schema
from trainer.data_validation.statistics import read_statistics, write_statistics
from trainer.parameter_limits import PIPELINE_LIMITS

log = logging.getLogger(__name__)


class DataAnomalies(InputError):
    """The data breaks the schema, or drifted with drift_action "fail": no training on it."""


@dataclass
class Validation:
    schema_source: str
    anomalies: list[Anomaly] = field(default_factory=list)
    distances: list[FeatureDistance] = field(default_factory=list)
    drift_against: str = ""  # what the distances are from ("": nothing to compare with)
    unchecked: list[str] = field(default_factory=list)  # features the schema does not name

    @property
    def drifted(self) -> list[FeatureDistance]:
        return [d for d in self.distances if d.exceeded]

    def summary(self) -> str:
        drift = (
            f"drift over the threshold in {', '.join(d.feature for d in self.drifted)}"
            if self.drifted
            else ("no drift" if self.drift_against else "no drift baseline yet")
        )
        return f"{len(self.anomalies)} anomalies, {drift} (schema: {self.schema_source})"


def check_validation_settings(
    drift_action: str, drift_threshold: float, drift_thresholds: Mapping[str, float]
) -> None:
    """InputError for settings outside their limits (trainer.parameter_limits), as commands do."""
    check_values(
        {"drift_action": drift_action, "drift_threshold": drift_threshold}, PIPELINE_LIMITS
    )
    if not isinstance(drift_thresholds, Mapping):
        raise InputError(
            f"drift_thresholds is {drift_thresholds!r}; use an object of feature: threshold."
        )


def validate_dataset(
    statistics_dir: str | Path,
    baseline_out: str | Path,
    report_path: str | Path,
    *,
    champion_uri: str = "",
    schema_uri: str = "",
    drift_action: str = "warn",
    drift_threshold: float = 0.3,
    drift_thresholds: Mapping[str, float] | None = None,
) -> Validation:
    """Validate the statistics in `statistics_dir`, write the outputs, return the verdict."""
    thresholds = dict(drift_thresholds or {})
    check_validation_settings(drift_action, drift_threshold, thresholds)
    statistics = read_statistics(statistics_dir, "The new data's statistics")
    champion = model_baseline(champion_uri) if champion_uri else None
    if schema_uri:
        schema, source = read_schema(schema_uri), f"pinned, {schema_uri}"
    elif champion is not None:
        schema, source = champion[0], f"the champion's, {champion_uri}"
    else:
        schema, source = infer_schema(statistics), "inferred from this data"
    # a threshold may name a feature the new data lost: its anomaly says so, not this check
    known = {**schema["features"], **statistics["features"]}
    check_thresholds(drift_threshold, thresholds, known, "drift_thresholds")
    result = Validation(source, find_anomalies(schema, statistics))
    result.unchecked = sorted(set(statistics["features"]) - set(schema["features"]))
    if champion is not None:
        result.distances = feature_distances(champion[1], statistics, drift_threshold, thresholds)
        result.drift_against = "the champion's training data"
    _write_outputs(result, schema, statistics, Path(baseline_out), report_path, drift_action)
    return result


def _write_outputs(
    result: Validation,
    schema: dict,
    statistics: dict,
    baseline_out: Path,
    report_path: str | Path,
    drift_action: str,
) -> None:
    stops = bool(result.anomalies) or (bool(result.drifted) and drift_action == "fail")
    verdict = ("The run stops: " if stops else "The data passes: ") + result.summary()
    facts = [
        ("schema", result.schema_source),
        ("examples", str(statistics["dataset"]["examples"])),
        ("source", str(statistics["dataset"]["source"])),
        ("drift action", drift_action),
        ("features the schema does not name (not checked)", ", ".join(result.unchecked) or "none"),
    ]
    distances = {result.drift_against: result.distances} if result.drift_against else {}
    write_verdict_report(
        report_path, "Data validation", verdict, facts, result.anomalies, distances, statistics
    )
    if baseline_out.exists():
        shutil.rmtree(baseline_out)
    write_schema(baseline_out, schema)
    write_statistics(baseline_out, statistics)


def stop_on_anomalies(result: Validation, drift_action: str) -> None:
    """DataAnomalies (the run stops) for anomalies, or for drift with drift_action "fail"."""
    if result.anomalies:
        lines = "\n".join(f"  - {a.describe()}" for a in result.anomalies)
        raise DataAnomalies(
            f"The new data breaks the schema ({result.schema_source}), so the run stops "
            f"before training:\n{lines}\nFix the data, or, if the change is intended, pin "
            "an edited schema with schema_uri (see docs/data-validation.md)."
        )
    lines = "\n".join(f"  - {d.describe()}" for d in result.drifted)
    if lines and drift_action == "fail":
        raise DataAnomalies(
            f"The new data drifted from {result.drift_against} beyond the thresholds:\n{lines}\n"
            "Raise the thresholds (drift_threshold, drift_thresholds) or set drift_action=warn "
            "if the change is expected."
        )
    if lines:
        log.warning("The new data drifted from %s:\n%s", result.drift_against, lines)
    log.info("Data validation: %s", result.summary())
