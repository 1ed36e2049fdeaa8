"""The container image every component of this project runs in on Vertex AI.

It holds this repository installed (trainer/, serving/) on a TensorFlow base;
set PIPELINE_IMAGE before `make compile` to the image you pushed. The kfp
local runner ignores it and runs components in the current environment.
"""

import os

PIPELINE_IMAGE = os.environ.get(
    "PIPELINE_IMAGE", "us-docker.pkg.dev/your-project/mlops/pipeline:latest"
)

# The serving container recorded on trained models (google.UnmanagedContainerModel
# containerSpec, serving/registry/container_spec.py), which Vertex AI's ModelUploadOp
# deploys. Default: this image, whose `python -m serving` is the project's
# prediction server; one of Vertex AI's prebuilt TensorFlow images also works.
SERVING_IMAGE = os.environ.get("SERVING_IMAGE", PIPELINE_IMAGE)
