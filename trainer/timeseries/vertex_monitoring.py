"""What Vertex AI Model Monitoring watches of a deployed forecaster: each step of its window.

A forecaster is sent windows, each an array of the last `window` values of the target
column, oldest first (`[9.0, 10.0, ...]`). Vertex reads an array instance by position,
so each step is a numeric field of its own, named `<target>_lag_<k>` for the value k
steps before the forecast (`value_lag_48` ... `value_lag_1`). Every step has the
training distribution of the target column (windows slide over the series), so each
is compared with the target's training statistics (skew) and with earlier traffic
(drift), at the target column's threshold.

Not watched by Vertex: the other columns of the training table (the time column and
any others), which a served window does not carry; and windows sent as objects
(`{"window": [...]}`), which the array schema does not parse (the server takes both).
"""

from __future__ import annotations

from trainer.vertex_monitoring.instances import ARRAY, InstanceField, InstanceLayout


def instance_layout(metadata: dict, statistics: dict) -> InstanceLayout:
    """The window's steps as array fields, from the model's metadata (its input shape)."""
    target = metadata["training_params"]["target_column"]
    window = int(metadata["input"]["shape"][1])
    fields = tuple(InstanceField(f"{target}_lag_{window - step}", target) for step in range(window))
    unwatched = {
        name: "a column of the training table that a served window does not carry"
        for name in statistics["features"]
        if name != target
    }
    return InstanceLayout(ARRAY, fields, unwatched)
