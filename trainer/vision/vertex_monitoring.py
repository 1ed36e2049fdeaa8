"""What Vertex AI Model Monitoring watches of a deployed image classifier: nothing.

An instance is one encoded image, `{"b64": "<JPEG or PNG bytes>"}`. Vertex AI Model
Monitoring v1 reads an instance's fields as they are sent and computes nothing from
them: the one field here is a base64 string, unique per image, whose "distribution"
says nothing. The baseline's features (image width, height, mode, format and
brightness) are derived from the decoded image, which Vertex does not decode, and the
label is a training label that served instances do not have. So the deploy step
configures no monitoring job for this case; the project's own monitoring
(`python -m pipelines monitor`, and the monitoring pipeline) compares those derived
features of the server's request log with the training statistics.
"""

from __future__ import annotations

from trainer.vertex_monitoring.instances import InstanceLayout, nothing_watched

DERIVED = (
    "derived from the decoded image; Vertex reads the instance's base64 string "
    "as it is sent and computes no image properties"
)


def instance_layout(metadata: dict, statistics: dict) -> InstanceLayout:
    """No field Vertex can watch; every baseline feature with the reason."""
    return nothing_watched(statistics, DERIVED)
