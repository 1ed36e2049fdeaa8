"""Skew and drift: how far each feature's distribution moved, against a threshold.

The distances are Vertex AI Model Monitoring's (`distances`): L-infinity for
categorical features, Jensen-Shannon divergence for numerical ones, both in [0, 1].
A threshold applies to every feature (`default_threshold`, Vertex AI's default is
0.3) unless `thresholds` names the feature; a threshold of 0 leaves a feature
unwatched, as it does on Vertex AI.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from serving.contracts.errors import InputError
from trainer.data_validation.distances import histogram_divergence, l_infinity
from trainer.data_validation.feature_stats import CATEGORICAL, NUMERIC, values_distribution

DEFAULT_THRESHOLD = 0.3
METRICS = {CATEGORICAL: "l_infinity", NUMERIC: "jensen_shannon_divergence"}


@dataclass(frozen=True)
class FeatureDistance:
    feature: str
    metric: str
    distance: float
    threshold: float  # 0: not watched
    exceeded: bool

    def describe(self) -> str:
        sign = ">" if self.exceeded else "<="
        metric = self.metric.replace("_", " ")
        return f"{self.feature}: {metric} {self.distance:.4f} {sign} {self.threshold:g}"

    def as_dict(self) -> dict:
        return asdict(self)


def check_thresholds(
    default_threshold: float,
    thresholds: Mapping[str, float],
    features: Mapping[str, dict],
    where: str,
) -> None:
    """InputError for a threshold outside [0, 1], or one naming a feature `features` lack."""
    for name, value in {"default": default_threshold, **thresholds}.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise InputError(
                f"{where}: the threshold for {name!r} is {value!r}; use a number from 0 to 1 "
                "(0 leaves the feature unwatched)."
            )
    unknown = sorted(set(thresholds) - set(features))
    if unknown:
        raise InputError(
            f"{where} names features the data does not have: {unknown}. "
            f"Its features: {sorted(features)}."
        )


def feature_distances(
    baseline: dict,
    new: dict,
    default_threshold: float = DEFAULT_THRESHOLD,
    thresholds: Mapping[str, float] | None = None,
) -> list[FeatureDistance]:
    """The distance of every feature the two statistics documents share, by feature name.

    A feature whose type changed, or with no values on one side, has no distance:
    the schema's checks report those.
    """
    thresholds = thresholds or {}
    out = []
    for name in sorted(baseline["features"].keys() & new["features"].keys()):
        old_entry, new_entry = baseline["features"][name], new["features"][name]
        if old_entry["type"] != new_entry["type"] or old_entry["type"] not in METRICS:
            continue
        old_values, new_values = values_distribution(old_entry), values_distribution(new_entry)
        if old_values is None or new_values is None:
            continue
        if old_entry["type"] == NUMERIC:
            distance = histogram_divergence(old_values["histogram"], new_values)
        else:
            distance = l_infinity(old_values, new_values)
        threshold = float(thresholds.get(name, default_threshold))
        out.append(
            FeatureDistance(
                name,
                METRICS[old_entry["type"]],
                round(distance, 6),
                threshold,
                bool(threshold) and distance > threshold,
            )
        )
    return out
