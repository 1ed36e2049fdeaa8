"""A trial's metric, written the way Vertex AI's tuning service reads it (`cloudml-hypertune`).

The trial reports with Google's `cloudml-hypertune` package itself
(`hypertune.HyperTune().report_hyperparameter_tuning_metric`): it rewrites, as JSON
lines, the file named by CLOUD_ML_HP_METRIC_FILE (default /tmp/hypertune/output.metrics),
one object per report:

    {"checkpoint_path": "", "global_step": "1", "timestamp": 1765000000.0, "trial": "3",
     "val_accuracy": "0.93"}

The metric's tag (the study's metric_id) is the key of its value, a string;
`trial` is CLOUD_ML_TRIAL_ID. Vertex AI reads this file in each trial's container;
the local runner and the emulator give each trial its own file and read the last
value reported under the metric's tag.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

METRIC_FILE_VAR = "CLOUD_ML_HP_METRIC_FILE"
TRIAL_ID_VAR = "CLOUD_ML_TRIAL_ID"
METRIC_FILE_NAME = "output.metrics"


def report_metric(tag: str, value: float, step: int = 0) -> None:
    """Report `value` of metric `tag` for this trial (to CLOUD_ML_HP_METRIC_FILE)."""
    import hypertune

    hypertune.HyperTune().report_hyperparameter_tuning_metric(
        hyperparameter_metric_tag=tag, metric_value=value, global_step=step
    )


def read_metric(path: str | Path, tag: str) -> float | None:
    """The last finite value reported under `tag` in a metric file; None when there is none."""
    path = Path(path)
    if not path.is_file():
        return None
    value = None
    for line in path.read_text().splitlines():
        try:
            entry = json.loads(line)
            reported = float(entry[tag])
        except (ValueError, KeyError, TypeError):
            continue
        if math.isfinite(reported):
            value = reported
    return value
