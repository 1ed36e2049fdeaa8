"""Fixtures for the Vertex AI commands: a compiled template, settings, the loopback API."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.fakes.vertex_api import FakeVertexApi, running_fake_vertex_api

IMAGE = "us-central1-docker.pkg.dev/my-project/mlops/pipeline:v1"


def compile_templates(out: Path, image: str | None, notify: str = "") -> Path:
    """`make compile` into `out` in a fresh process (components read PIPELINE_IMAGE on import);
    image None: PIPELINE_IMAGE unset; `notify`: VERTEX_NOTIFICATION_EMAILS (default unset)."""
    unset = {"PIPELINE_IMAGE", "VERTEX_NOTIFICATION_EMAILS"}
    env = {k: v for k, v in os.environ.items() if k not in unset}
    if image:
        env["PIPELINE_IMAGE"] = image
    if notify:
        env["VERTEX_NOTIFICATION_EMAILS"] = notify
    subprocess.run(
        [sys.executable, "-m", "pipelines", "compile", "--out-dir", str(out)],
        check=True, cwd=REPO, capture_output=True, env=env,
    )  # fmt: skip
    return out


@pytest.fixture(scope="session")
def template_dir(tmp_path_factory) -> Path:
    """build/pipelines as `make compile` writes it, with PIPELINE_IMAGE set."""
    return compile_templates(tmp_path_factory.mktemp("pipelines"), IMAGE)


@pytest.fixture
def vertex_api(gcs_emulator, monkeypatch, saved_aiplatform_config) -> FakeVertexApi:
    """The loopback Vertex AI API; Cloud Storage calls (the SDK's bucket check) go to
    the storage emulator. The SDK's global settings are restored afterwards.

    One mock: before submitting, the SDK checks that an existing pipeline-root
    bucket belongs to the project by asking Cloud Resource Manager for the
    project number over gRPC, which no stand-in can answer here (offline it
    waits about 50 s for googleapis.com). That one lookup is replaced and
    recorded in `api.project_lookups`; the rest of the check runs for real.
    """
    from google.cloud.aiplatform.utils import resource_manager_utils

    with running_fake_vertex_api() as api:

        def project_number(project_id: str, credentials=None) -> str:
            api.project_lookups.append(project_id)
            return "123456789"

        monkeypatch.setattr(resource_manager_utils, "get_project_number", project_number)
        yield api


@pytest.fixture
def vertex_env(vertex_api, monkeypatch) -> dict[str, str]:
    """The settings a user exports, with VERTEX_API_ENDPOINT on the loopback API."""
    env = {
        "GOOGLE_CLOUD_PROJECT": "my-project",
        "VERTEX_REGION": "europe-west4",
        "PIPELINE_ROOT": "gs://my-project-pipeline-root/runs",
        "VERTEX_SERVICE_ACCOUNT": "vertex-pipelines@my-project.iam.gserviceaccount.com",
        "VERTEX_ENDPOINT_SERVICE_ACCOUNT": "vertex-endpoints@my-project.iam.gserviceaccount.com",
        "VERTEX_NETWORK": "projects/123456789/global/networks/ml-vpc",
        "PIPELINE_LABELS": "team=ml,env=dev",
        "ENABLE_CACHING": "false",
        "VERTEX_API_ENDPOINT": vertex_api.url,
        "KFP_REPOSITORY": f"{vertex_api.url}/my-project/pipelines",
        "SCHEDULE_CRON": "TZ=Etc/UTC 0 3 * * 1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env
