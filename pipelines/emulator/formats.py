"""Formats Vertex AI and Cloud Storage hold names to, shared by the emulator's checks."""

from __future__ import annotations

import re

# gs://<bucket>/<path>: a bucket name is 3-63 lowercase letters, digits, '-', '_' or '.'.
GCS_URI = re.compile(r"^gs://[a-z0-9][a-z0-9._-]{1,61}[a-z0-9](/.*)?$")
# A PipelineJob id (pipeline_job_id): what the run's resource name ends with.
PIPELINE_JOB_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,127}$")
# The emulated project's number (metadata server, Resource Manager).
PROJECT_NUMBER = "123456789012"
