"""Vertex AI's batch prediction output layout, in one place.

In the output prefix a job writes one new directory,
`prediction-<model display name>-<job create time>` (the time as
YYYY-MM-DDThh:mm:ss.sssZ), holding `prediction.results-NNNNN-of-NNNNN` files of
`{"instance": ..., "prediction": ...}` lines and, when an instance failed,
`prediction.errors_stats-NNNNN-of-NNNNN` files of `{"instance": ..., "error":
{"code": ..., "message": ...}}` lines: the failed instance followed by a
google.rpc.Status with only `code` and `message` (aiplatform_v1
BatchPredictionJob.OutputConfig; the shard names are those of Cloud ML's batch
prediction, which Vertex kept).
"""

from __future__ import annotations

import datetime as dt
import math
import re

RESULTS = "prediction.results"
ERRORS = "prediction.errors_stats"
INVALID_ARGUMENT = 3  # google.rpc.Code: the instance cannot be used as given
INTERNAL = 13  # google.rpc.Code: the model failed on it
_SHARD = re.compile(r"^(prediction\.results|prediction\.errors_stats)-(\d{5})-of-(\d{5})$")


def job_directory(model_display_name: str, created: dt.datetime) -> str:
    """The directory name Vertex AI gives a job's output."""
    stamp = created.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{created.microsecond // 1000:03d}Z"
    )
    return f"prediction-{model_display_name}-{stamp}"


def shard_name(kind: str, index: int, count: int) -> str:
    return f"{kind}-{index:05d}-of-{count:05d}"


def result_line(instance: object, prediction: object) -> dict:
    return {"instance": instance, "prediction": prediction}


def error_line(instance: object, code: int, message: str) -> dict:
    return {"instance": instance, "error": {"code": code, "message": message}}


def not_finite(value: object) -> str:
    """The first NaN or infinity in `value`, as text ("" when there is none): JSON has no such
    number, so an instance or prediction holding one is a row error, not a failed job."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list | tuple):
        return next((found for item in value if (found := not_finite(item))), "")
    return ""


def as_text(value: object) -> object:
    """`value` with each NaN or infinity written as its text (the raw value, kept for the
    errors output)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: as_text(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [as_text(item) for item in value]
    return value


def finite_line(kind: str, line: dict) -> tuple[str, dict]:
    """`line` as it can be written: a result whose prediction is not finite becomes an error."""
    if kind == RESULTS and (found := not_finite(line)):
        reason = f"the prediction holds {found}, which JSON cannot carry"
        return ERRORS, error_line(as_text(line["instance"]), INTERNAL, reason)
    return kind, as_text(line)


def complete_shards(names: list[str]) -> dict[str, list[str]]:
    """The shard files of each kind, {} for a kind whose shards are not all there: a reader's
    check that an output is whole (every NNNNN of its count present)."""
    found: dict[str, dict[int, set[int]]] = {}
    for name in names:
        match = _SHARD.match(name)
        if match:
            kind, index, count = match.group(1), int(match.group(2)), int(match.group(3))
            found.setdefault(kind, {}).setdefault(count, set()).add(index)
    whole = {}
    for kind, counts in found.items():
        if len(counts) == 1:
            ((count, indexes),) = counts.items()
            if indexes == set(range(count)):
                whole[kind] = [shard_name(kind, i, count) for i in range(count)]
    return whole
