"""A statistics document: every feature of one dataset (or one window of served traffic).

    {"schema_version": 1,
     "dataset": {"case": "vision", "source": "gs://...", "examples": 1797, "created_at": "..."},
     "features": {"<name>": {"type", "role", "description", "stats"}},   # feature_stats
     "details": {...}}   # what only a person reads: counts per split, top tokens, seasons

`write_statistics` writes statistics.json and, beside it, the same statistics as
TensorFlow Metadata's DatasetFeatureStatisticsList (statistics.pb), which TFDV and
Facets read.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from serving.contracts.artifact_dirs import write_json
from serving.contracts.errors import InputError

STATISTICS_VERSION = 1
STATISTICS_FILE = "statistics.json"
STATISTICS_PROTO_FILE = "statistics.pb"


def statistics_document(
    case: str, source: str, examples: int, features: dict, details: dict | None = None
) -> dict:
    return {
        "schema_version": STATISTICS_VERSION,
        "dataset": {
            "case": case,
            "source": source,
            "examples": int(examples),
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        },
        "features": features,
        "details": details or {},
    }


def write_statistics(directory: str | Path, statistics: dict) -> Path:
    """statistics.json and statistics.pb (TFMD) in `directory` (created); returns the JSON."""
    from trainer.data_validation.tfmd import statistics_proto

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    (out / STATISTICS_PROTO_FILE).write_bytes(statistics_proto(statistics).SerializeToString())
    write_json(out / STATISTICS_FILE, statistics)
    return out / STATISTICS_FILE


def read_statistics(directory: str | Path, what: str = "Statistics") -> dict:
    """The statistics document in `directory` (or the file itself); InputError if unreadable."""
    path = Path(directory)
    if path.is_dir():
        path = path / STATISTICS_FILE
    try:
        statistics = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{what}: no {STATISTICS_FILE} at {path.parent}.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{what} at {path} cannot be read ({exc}).") from None
    if not isinstance(statistics, dict) or statistics.get("schema_version") != STATISTICS_VERSION:
        raise InputError(
            f"{what} at {path} is not a version-{STATISTICS_VERSION} statistics document."
        )
    return statistics
