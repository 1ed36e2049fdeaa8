"""The data schema: what a dataset must look like for a model trained on it to apply.

A JSON document, inferred from the first training data's statistics, kept with the
model (`<model>/data_baseline/schema.json`), and editable: a user may pin one with
the pipeline parameter `schema_uri`. Layout:

    {"schema_version": 1,
     "features": {"<name>": {
         "type": "numeric" | "categorical" | "timestamp",
         "required": true,                 # a dataset without the feature is an anomaly
         "max_missing_fraction": 0.05,     # more missing values than this is an anomaly
         "range": [low, high],             # numeric columns: values outside are anomalies
         "domain": ["a", "b"],             # categorical columns and labels: other values are
         "all_values_required": true}}}    # labels: a class of the domain absent is an anomaly

Inference: every feature is required, its missing fraction may rise by
MISSING_SLACK above what was seen; a numeric column's range is the seen one widened
by RANGE_MARGIN of its span on each side (of its size when the span is 0); a
label's domain is the classes seen (none when there are more than the statistics keep);
a categorical column's is the values seen only when they look like a vocabulary: at
most MAX_DOMAIN of them (TFDV's max_string_domain_size) and at most MAX_UNIQUE_SHARE
of the values distinct, so that dates kept as text and IDs, new on every run, get
none. Derived features (an image's width, a text's
length) are only typed and required: their distributions are watched for drift.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

from serving.contracts.artifact_dirs import write_json
from serving.contracts.errors import InputError
from serving.contracts.storage import download_object
from trainer.data_validation.feature_stats import CATEGORICAL, NUMERIC, TIMESTAMP

SCHEMA_VERSION = 1
SCHEMA_FILE = "schema.json"
SCHEMA_PROTO_FILE = "schema.pbtxt"
MISSING_SLACK = 0.05
RANGE_MARGIN = 0.25
MAX_DOMAIN = 100
MAX_UNIQUE_SHARE = 0.5
_TYPES = (NUMERIC, CATEGORICAL, TIMESTAMP)
_KEYS = {"type", "required", "max_missing_fraction", "range", "domain", "all_values_required"}


def infer_schema(statistics: dict) -> dict:
    """The schema `statistics` (a statistics document) satisfy, by the rules above."""
    return {
        "schema_version": SCHEMA_VERSION,
        "features": {
            name: _infer_feature(entry) for name, entry in sorted(statistics["features"].items())
        },
    }


def _infer_feature(entry: dict) -> dict:
    stats = entry["stats"]
    total = stats["count"] + stats["missing"]
    seen_missing = stats["missing"] / total if total else 0.0
    spec: dict = {
        "type": entry["type"],
        "required": True,
        "max_missing_fraction": min(1.0, round(seen_missing + MISSING_SLACK, 4)),
    }
    if entry["role"] == "derived":
        return spec
    if entry["type"] == NUMERIC and stats["count"]:
        low, high = stats["min"], stats["max"]
        margin = RANGE_MARGIN * ((high - low) or abs(high) or 1.0)
        spec["range"] = [low - margin, high + margin]
    if entry["type"] == CATEGORICAL and _has_domain(stats, entry["role"] == "label"):
        spec["domain"] = sorted(stats["frequencies"])
        if entry["role"] == "label":
            spec["all_values_required"] = True
    return spec


def _has_domain(stats: dict, is_label: bool) -> bool:
    if not stats["count"] or stats["other"]:  # nothing seen, or values the statistics dropped
        return False
    if is_label:
        return True
    return stats["unique"] <= min(MAX_DOMAIN, MAX_UNIQUE_SHARE * stats["count"])


def write_schema(directory: str | Path, schema: dict) -> Path:
    """schema.json and, beside it, the same schema as TFMD's text format (schema.pbtxt)."""
    from trainer.data_validation.tfmd import schema_text

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    (out / SCHEMA_PROTO_FILE).write_text(schema_text(schema))
    write_json(out / SCHEMA_FILE, schema)
    return out / SCHEMA_FILE


def read_schema(uri: str | Path, source: str = "schema_uri") -> dict:
    """A schema file (local or gs://), checked; InputError naming `source` and the fault."""
    text = str(uri)
    if text.startswith("gs://"):
        return _read_gcs_schema(text, source)
    path = Path(text)
    if path.is_dir():
        path = path / SCHEMA_FILE
    if not path.is_file():
        raise InputError(f"{source}: no schema file at {text}. Pass a schema.json (see docs).")
    try:
        body = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{source}: cannot read {path} ({exc}).") from None
    return parse_schema(body, f"{source} {path}")


def _read_gcs_schema(uri: str, source: str) -> dict:
    """A schema object, or a folder's schema.json, on Cloud Storage."""
    name = uri if uri.endswith(".json") else f"{uri.rstrip('/')}/{SCHEMA_FILE}"
    with tempfile.TemporaryDirectory(prefix="schema-") as tmp:
        try:
            body = download_object(name, tmp).read_text(encoding="utf-8")
        except InputError as exc:
            raise InputError(
                f"{source}: cannot read a schema at {uri} ({exc}). Pass a schema.json (see "
                "docs/data-validation.md), or leave it empty to use the champion's."
            ) from None
        except UnicodeDecodeError as exc:
            raise InputError(f"{source}: {name} is not UTF-8 text ({exc}).") from None
    return parse_schema(body, f"{source} {name}")


def parse_schema(text: str, where: str) -> dict:
    """The schema in `text`, or InputError naming `where` and what is wrong."""
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where} is not JSON ({exc}): fix or regenerate it.") from None
    if not isinstance(schema, dict) or not isinstance(schema.get("features"), dict):
        raise InputError(f'{where} has no "features" object: it is not a data schema.')
    if schema.get("schema_version") != SCHEMA_VERSION:
        raise InputError(
            f"{where} has schema_version {schema.get('schema_version')!r}; this version "
            f"reads {SCHEMA_VERSION}."
        )
    for name, spec in schema["features"].items():
        problem = _feature_problem(spec)
        if problem:
            raise InputError(f"{where}: feature {name!r} {problem}.")
    return schema


def _feature_problem(spec: object) -> str | None:
    if not isinstance(spec, dict):
        return "is not an object"
    unknown = sorted(set(spec) - _KEYS)
    if unknown:
        return f"has unknown keys {unknown} (known: {sorted(_KEYS)})"
    if spec.get("type") not in _TYPES:
        return f"has type {spec.get('type')!r}; use one of {list(_TYPES)}"
    fraction = spec.get("max_missing_fraction", 1.0)
    if not _is_number(fraction) or not 0 <= fraction <= 1:
        return f"has max_missing_fraction {fraction!r}; use a number from 0 to 1"
    for key in ("required", "all_values_required"):
        if not isinstance(spec.get(key, False), bool):
            return f"has {key} {spec[key]!r}; use true or false"
    if "range" in spec:
        bounds = spec["range"]
        if (
            not isinstance(bounds, list)
            or len(bounds) != 2
            or not all(_is_number(b) for b in bounds)
            or bounds[0] > bounds[1]
        ):
            return f"has range {bounds!r}; use [low, high] with low <= high"
        if spec["type"] != NUMERIC:
            return "has a range but is not numeric"
    if "domain" in spec:
        if not isinstance(spec["domain"], list) or not all(
            isinstance(v, str) for v in spec["domain"]
        ):
            return f"has domain {spec['domain']!r}; use a list of strings"
        if spec["type"] != CATEGORICAL:
            return "has a domain but is not categorical"
    return None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
