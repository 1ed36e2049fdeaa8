"""Real Google clients through the emulator's network layer: metadata credentials, the proxy.

Clients are the real ones (google-auth, requests, the aiplatform gRPC client) running in child
processes whose environment comes from `client_environment`, so this process's own environment is
untouched. Behind the proxy are the test upstreams (network_upstreams.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.emulator.network.client_env import apply, client_environment
from tests.pipelines.emulator.network_upstreams import API_HOST, PROJECT, SERVICE_ACCOUNT

REPO = Path(__file__).resolve().parents[3]
CHILD_TIMEOUT_S = 60


@pytest.fixture
def child_env(proxy_port, metadata_host, certificates, tmp_path) -> dict[str, str]:
    """This process's environment made into a client's; a stale key file in it must not win."""
    parent = dict(os.environ, GOOGLE_APPLICATION_CREDENTIALS=str(tmp_path / "missing-key.json"))
    overrides = client_environment(proxy_port, metadata_host, certificates, PROJECT, tmp_path)
    return apply(parent, overrides)


def _run_child(code: str, env: dict[str, str]) -> dict:
    """Run `code` in a fresh interpreter; it prints one JSON line, which is returned."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_google_auth_default_gets_compute_engine_credentials_from_the_metadata_server(child_env):
    child = _run_child(
        """
import json, google.auth, google.auth.transport.requests
credentials, project = google.auth.default()
credentials.refresh(google.auth.transport.requests.Request())
print(json.dumps({"class": type(credentials).__module__ + "." + type(credentials).__name__,
                  "token": credentials.token, "project": project,
                  "email": credentials.service_account_email,
                  "universe": credentials.universe_domain}))
""",
        child_env,
    )
    assert child == {
        "class": "google.auth.compute_engine.credentials.Credentials",
        "token": "emulator-token",
        "project": PROJECT,
        "email": SERVICE_ACCOUNT,
        "universe": "googleapis.com",
    }


def test_aiplatform_job_service_client_reaches_a_local_grpc_server_over_tls(
    child_env, grpc_upstream
):
    _address, calls = grpc_upstream
    calls.clear()
    name = f"projects/{PROJECT}/locations/us-central1/customJobs/42"
    # The client is built exactly as GCPC's job_remote_runner builds it.
    child = _run_child(
        f"""
import json
from google.api_core import client_options
from google.cloud import aiplatform_v1
options = client_options.ClientOptions(api_endpoint="us-central1" + "-aiplatform.googleapis.com")
client = aiplatform_v1.JobServiceClient(client_options=options)
job = client.get_custom_job(name={name!r}, timeout=20)
print(json.dumps({{"name": job.name, "display_name": job.display_name,
                  "state": job.state.name}}))
""",
        child_env,
    )
    assert child == {
        "name": name,
        "display_name": "from-the-test-server",
        "state": "JOB_STATE_SUCCEEDED",
    }
    assert len(calls) == 1
    assert calls[0]["authorization"] == "Bearer emulator-token"


def test_requests_reaches_the_http_server_and_unknown_hosts_are_refused(child_env):
    child = _run_child(
        f"""
import json, requests
answer = requests.get("https://{API_HOST}/v1/x?y=1", timeout=20).json()
try:
    requests.get("https://example.com/", timeout=20)
    refused = None
except requests.exceptions.ProxyError as error:
    refused = str(error)
print(json.dumps({{"answer": answer, "refused": refused}}))
""",
        child_env,
    )
    assert child["answer"] == {"host": API_HOST, "path": "/v1/x?y=1"}
    assert child["refused"] is not None
    assert "403" in child["refused"]
    assert "example.com:443 is not served by the Vertex AI emulator" in child["refused"]
