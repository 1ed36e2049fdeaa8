"""`python -m pipelines deploy`: template to Artifact Registry, then a Vertex AI schedule.

The real kfp RegistryClient and google-cloud-aiplatform SDK talk to the
loopback stand-in (tests/fakes/vertex_api.py), which serves both the KFP
repository and the Vertex AI API.
"""

import re

import pytest
import yaml

from pipelines.cli import main
from pipelines.vertex.api_errors import VertexApiError

TEMPLATE_URL = re.compile(
    r"^http://127\.0\.0\.1:\d+/my-project/pipelines/image-classification/sha256:[0-9a-f]{64}$"
)


@pytest.fixture(autouse=True)
def sdk_loads_templates_from_the_loopback_registry(monkeypatch):
    """The SDK downloads a template only from https://<region>-kfp.pkg.dev, which a loopback
    server cannot be: its URL pattern is widened to 127.0.0.1 (the one change to the SDK)."""
    from google.cloud.aiplatform import pipeline_jobs
    from google.cloud.aiplatform.utils import yaml_utils

    pattern = re.compile(r"^(https://[\w-]+-kfp\.pkg\.dev|http://127\.0\.0\.1:\d+)/.*")
    monkeypatch.setattr(pipeline_jobs, "_VALID_AR_URL", pattern)
    monkeypatch.setattr(yaml_utils, "_VALID_AR_URL", pattern)


def deploy(template_dir, *extra: str) -> None:
    main(["deploy", "vision", "--template-dir", str(template_dir), *extra])


def schedules(api) -> list[dict]:
    return [r for name, r in api.resources.items() if "/schedules/" in name]


def test_deploy_uploads_the_template_and_schedules_that_version(
    template_dir, vertex_api, vertex_env, capsys
):
    deploy(template_dir, "--set", "source_uri=gs://data/flowers")

    [upload] = vertex_api.calls("POST", r"^/my-project/pipelines$")
    compiled = (template_dir / "vision.yaml").read_bytes()
    assert upload.body["content"] == compiled and upload.body["tags"] == ["latest"]
    [schedule] = schedules(vertex_api)
    assert schedule["displayName"] == "vision-schedule"
    assert schedule["cron"] == vertex_env["SCHEDULE_CRON"]
    assert schedule["maxConcurrentRunCount"] in (1, "1")
    job = schedule["createPipelineJobRequest"]["pipelineJob"]
    assert TEMPLATE_URL.match(job["templateUri"])
    assert job["pipelineSpec"]["pipelineInfo"] == yaml.safe_load(compiled)["pipelineInfo"]
    assert job["runtimeConfig"]["parameterValues"] == {
        "source_uri": "gs://data/flowers",
        "endpoint_service_account": vertex_env["VERTEX_ENDPOINT_SERVICE_ACCOUNT"],
    }
    assert job["runtimeConfig"]["gcsOutputDirectory"] == vertex_env["PIPELINE_ROOT"]
    assert job["serviceAccount"] == vertex_env["VERTEX_SERVICE_ACCOUNT"]
    assert job["labels"] == {"team": "ml", "env": "dev", "pipeline": "vision"}
    assert schedule["createPipelineJobRequest"]["parent"] == (
        "projects/my-project/locations/europe-west4"
    )
    out = capsys.readouterr().out
    assert "Deployed vision: http://127.0.0.1" in out and vertex_env["SCHEDULE_CRON"] in out


def test_deploying_again_replaces_the_schedule_new_one_first(template_dir, vertex_api, vertex_env):
    deploy(template_dir, "--set", "source_uri=gs://data/flowers")
    [first] = schedules(vertex_api)
    deploy(template_dir, "--set", "source_uri=gs://data/tulips")

    [second] = schedules(vertex_api)
    assert second["name"] != first["name"]
    job = second["createPipelineJobRequest"]["pipelineJob"]
    assert job["runtimeConfig"]["parameterValues"] == {
        "source_uri": "gs://data/tulips",
        "endpoint_service_account": vertex_env["VERTEX_ENDPOINT_SERVICE_ACCOUNT"],
    }
    order = [(r.method, r.path) for r in vertex_api.requests if "/schedules" in r.path]
    created = order.index(("POST", "/v1/projects/my-project/locations/europe-west4/schedules"), 1)
    deleted = order.index(("DELETE", f"/v1/{first['name']}"))
    assert created < deleted


def test_a_failed_schedule_keeps_the_old_one(template_dir, vertex_api, vertex_env):
    deploy(template_dir, "--set", "source_uri=gs://data/flowers")
    [first] = schedules(vertex_api)
    vertex_api.failures.append(("POST", r"/schedules$", 403, "Permission denied on resource"))
    with pytest.raises(VertexApiError) as failed:
        deploy(template_dir, "--set", "source_uri=gs://data/tulips")
    message = str(failed.value)
    assert "Could not create schedule vision-schedule" in message and "HTTP 403" in message
    assert "iam.serviceAccountUser" in message
    assert schedules(vertex_api) == [first]
    assert not vertex_api.calls("DELETE", "/schedules/")


def test_an_upload_refused_by_the_registry_names_the_repository(
    template_dir, vertex_api, vertex_env
):
    vertex_api.failures.append(("POST", r"^/my-project/pipelines$", 404, "Repository not found"))
    with pytest.raises(VertexApiError) as failed:
        deploy(template_dir, "--set", "source_uri=gs://data/flowers")
    message = str(failed.value)
    assert f"upload the pipeline template to {vertex_env['KFP_REPOSITORY']} (HTTP 404)" in message
    assert "make infra" in message
    assert schedules(vertex_api) == []


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SCHEDULE_CRON": ""}, "SCHEDULE_CRON is not set"),
        ({"SCHEDULE_CRON": "nightly"}, "SCHEDULE_CRON='nightly' is not a 5-field cron schedule"),
        ({"KFP_REPOSITORY": ""}, "KFP_REPOSITORY is not set.*kfp.pkg.dev"),
    ],
)
def test_bad_schedule_settings_stop_before_any_request(
    template_dir, vertex_api, vertex_env, monkeypatch, env, message
):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SystemExit, match=f"(?s){message}"):
        deploy(template_dir, "--set", "source_uri=gs://data/flowers")
    assert vertex_api.requests == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("fine_tune_learning_rate=2", r"fine_tune_learning_rate=2\.0 is out of range"),
        ("regression_tolerance=1", r"regression_tolerance=1\.0 is out of range"),
        ("train_replica_count=0", r"train_replica_count=0 is out of range"),
    ],
)
def test_a_parameter_out_of_range_stops_a_schedule_before_any_request(
    template_dir, vertex_api, vertex_env, value, message
):
    with pytest.raises(SystemExit, match=message):
        deploy(template_dir, "--set", "source_uri=gs://data/flowers", "--set", value)
    assert vertex_api.requests == []


def test_a_failed_delete_says_both_schedules_run(template_dir, vertex_api, vertex_env):
    deploy(template_dir, "--set", "source_uri=gs://data/flowers")
    [first] = schedules(vertex_api)
    vertex_api.failures.append(("DELETE", "/schedules/", 403, "Permission denied"))
    with pytest.raises(VertexApiError) as failed:
        deploy(template_dir, "--set", "source_uri=gs://data/tulips")
    message = str(failed.value)
    assert "is live, but the previous one still runs too" in message
    assert first["name"] in message and "HTTP 403" in message
    assert len(schedules(vertex_api)) == 2


def test_a_refused_template_download_is_one_message(template_dir, vertex_api, vertex_env):
    vertex_api.failures.append(("GET", r"^/my-project/pipelines/", 403, "Caller lacks access"))
    with pytest.raises(VertexApiError) as failed:
        deploy(template_dir, "--set", "source_uri=gs://data/flowers")
    message = str(failed.value)
    assert "HTTP 403" in message and "Caller lacks access" in message
    assert "projects/my-project/locations/europe-west4" in message
    assert schedules(vertex_api) == []
