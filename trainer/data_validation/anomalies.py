"""Anomalies: where a dataset's statistics break its schema, each named and explained.

What is checked, per schema feature: present (when required), of the schema's type,
missing values within `max_missing_fraction`, numeric values inside `range`,
categorical values inside `domain`, and, for labels, every class of the domain
present. Any one stops a pipeline before training.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from trainer.data_validation.feature_stats import CATEGORICAL, NUMERIC

SHOWN_VALUES = 5


@dataclass(frozen=True)
class Anomaly:
    feature: str
    # missing_feature, type_change, missing_rate, out_of_range, new_values (new_classes for a
    # label), missing_classes
    kind: str
    expected: str
    found: str

    def describe(self) -> str:
        what = self.kind.replace("_", " ")
        return f"{self.feature}: {what}: expected {self.expected}, found {self.found}"

    def as_dict(self) -> dict:
        return asdict(self)


def find_anomalies(schema: dict, statistics: dict) -> list[Anomaly]:
    """Every anomaly of `statistics` (a statistics document) against `schema`, by feature."""
    found: list[Anomaly] = []
    features = statistics["features"]
    for name, spec in sorted(schema["features"].items()):
        entry = features.get(name)
        if entry is None:
            if spec.get("required", True):
                found.append(Anomaly(name, "missing_feature", "the feature", "no such feature"))
            continue
        if entry["type"] != spec["type"]:
            found.append(Anomaly(name, "type_change", spec["type"], _type_found(entry)))
            continue
        found.extend(_value_anomalies(name, spec, entry["stats"]))
    return found


def _type_found(entry: dict) -> str:
    stats = entry["stats"]
    if entry["type"] == CATEGORICAL and stats.get("frequencies"):
        return f"{entry['type']} (values such as {_listed(list(stats['frequencies']))})"
    return entry["type"]


def _value_anomalies(name: str, spec: dict, stats: dict) -> list[Anomaly]:
    found = []
    total = stats["count"] + stats["missing"]
    limit = spec.get("max_missing_fraction", 1.0)
    if total and stats["missing"] / total > limit:
        found.append(
            Anomaly(
                name,
                "missing_rate",
                f"at most {limit:.1%} missing",
                f"{stats['missing'] / total:.1%} ({stats['missing']} of {total})",
            )
        )
    if spec["type"] == NUMERIC and "range" in spec and stats["count"]:
        low, high = spec["range"]
        if stats["min"] < low or stats["max"] > high:
            found.append(
                Anomaly(
                    name,
                    "out_of_range",
                    f"values in [{low:g}, {high:g}]",
                    f"values in [{stats['min']:g}, {stats['max']:g}]",
                )
            )
    if spec["type"] == NUMERIC and stats.get("non_finite"):
        found.append(
            Anomaly(name, "out_of_range", "finite values", f"{stats['non_finite']} infinite")
        )
    if spec["type"] == CATEGORICAL and "domain" in spec:
        domain = set(spec["domain"])
        seen = set(stats["frequencies"])
        values = "classes" if spec.get("all_values_required") else "values"
        new = sorted(seen - domain)
        if new or stats.get("other"):
            extra = f" and {stats['other']} more" if stats.get("other") else ""
            found.append(
                Anomaly(
                    name, f"new_{values}", f"one of {_listed(sorted(domain))}", _listed(new) + extra
                )
            )
        absent = sorted(domain - seen)
        if spec.get("all_values_required") and absent and not stats.get("other"):
            found.append(
                Anomaly(
                    name,
                    "missing_classes",
                    f"all of {_listed(sorted(domain))}",
                    f"no {_listed(absent)}",
                )
            )
    return found


def _listed(values: list[str]) -> str:
    shown = ", ".join(repr(v) for v in values[:SHOWN_VALUES])
    more = len(values) - SHOWN_VALUES
    return shown + (f" (+{more} more)" if more > 0 else "")
