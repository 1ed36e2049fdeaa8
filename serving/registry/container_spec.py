"""The serving container recorded on a trained model, which Vertex AI deploys it with.

By default it is this project's server (`python -m serving`, the pipeline
image), so a Vertex AI endpoint answers exactly as `make serve` does
locally. Vertex AI sets AIP_STORAGE_URI (the model's files), AIP_HTTP_PORT,
AIP_PREDICT_ROUTE, AIP_HEALTH_ROUTE and AIP_DEPLOYED_MODEL_ID in the
container; the server reads them. One of Vertex AI's prebuilt prediction
images (`.../vertex-ai/prediction/...`) needs no more than its URI.
"""

from __future__ import annotations

from serving.contracts.errors import InputError

SERVING_PORT = 8080


def container_spec(image_uri: str, request_log_uri: str = "") -> dict:
    """Model Registry's containerSpec for `image_uri`; the project's server writes its
    request-response log to `request_log_uri` (gs://) when one is given."""
    if request_log_uri and not request_log_uri.startswith("gs://"):
        raise InputError(
            f"request_log_uri={request_log_uri!r}: a Vertex AI endpoint's container writes "
            "its request log to Cloud Storage; pass gs://bucket/prefix, or leave it empty."
        )
    if "/vertex-ai/prediction/" in image_uri:
        if request_log_uri:
            raise InputError(
                f"request_log_uri is set, but {image_uri} is a prebuilt Vertex AI image, which "
                "does not write this project's request log: use the project's serving image."
            )
        return {"imageUri": image_uri}
    log = ["--request-log", request_log_uri] if request_log_uri else []
    return {
        "imageUri": image_uri,
        "command": ["python3", "-m", "serving"],
        "args": ["--host", "0.0.0.0", "--poll-seconds", "0", *log],
        "ports": [{"containerPort": SERVING_PORT}],
        "predictRoute": "/predict",
        "healthRoute": "/health",
    }
