"""The container image every component of this project runs in on Vertex AI.

It holds this repository installed (trainer/, serving/) on a TensorFlow base;
set PIPELINE_IMAGE before `make compile` to the image you pushed. The kfp
local runner ignores it and runs components in the current environment.
"""

import os

PIPELINE_IMAGE = os.environ.get(
    "PIPELINE_IMAGE", "us-docker.pkg.dev/your-project/mlops/pipeline:latest"
)
