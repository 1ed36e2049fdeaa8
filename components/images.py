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
# containerSpec), which Vertex AI's ModelUploadOp deploys. Default: Vertex AI's
# prebuilt TensorFlow serving image.
SERVING_IMAGE = os.environ.get(
    "SERVING_IMAGE", "us-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest"
)
