"""The serving container recorded on a trained model, which Vertex AI deploys it with.

By default it is this project's server (`python -m serving`, the pipeline
image), so a Vertex AI endpoint answers exactly as `make serve` does
locally. Vertex AI sets AIP_STORAGE_URI (the model's files), AIP_HTTP_PORT,
AIP_PREDICT_ROUTE, AIP_HEALTH_ROUTE and AIP_DEPLOYED_MODEL_ID in the
container; the server reads them. One of Vertex AI's prebuilt prediction
images (`.../vertex-ai/prediction/...`) needs no more than its URI.
"""

from __future__ import annotations

SERVING_PORT = 8080


def container_spec(image_uri: str) -> dict:
    """Model Registry's containerSpec for `image_uri`."""
    if "/vertex-ai/prediction/" in image_uri:
        return {"imageUri": image_uri}
    return {
        "imageUri": image_uri,
        "command": ["python3", "-m", "serving"],
        "args": ["--host", "0.0.0.0", "--poll-seconds", "0"],
        "ports": [{"containerPort": SERVING_PORT}],
        "predictRoute": "/predict",
        "healthRoute": "/health",
    }
