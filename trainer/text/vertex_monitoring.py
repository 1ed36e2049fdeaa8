"""What Vertex AI Model Monitoring watches of a deployed text classifier: nothing.

An instance is one text, sent as a JSON string (`"my parcel never arrived"`). Vertex
AI Model Monitoring v1 parses object instances (by key), array instances (by
position) and CSV strings: a free text would be read as comma-separated values, or as
one categorical field whose values are all distinct, neither of which is a
distribution worth an alert. The baseline's features (the text's length, word count
and share of non-ASCII characters) are derived from the text, which Vertex does not
compute, and the label is a training label that served instances do not have. So the
deploy step configures no monitoring job for this case; the project's own monitoring
(`python -m pipelines monitor`, and the monitoring pipeline) compares those derived
features of the server's request log with the training statistics.
"""

from __future__ import annotations

from trainer.vertex_monitoring.instances import InstanceLayout, nothing_watched

DERIVED = (
    "derived from the text; Vertex reads an instance as it is sent and computes no text properties"
)


def instance_layout(metadata: dict, statistics: dict) -> InstanceLayout:
    """No field Vertex can watch; every baseline feature with the reason."""
    return nothing_watched(statistics, DERIVED)
