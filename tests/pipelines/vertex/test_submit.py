"""`python -m pipelines submit`: the real google-cloud-aiplatform SDK against a loopback Vertex API.

The stand-in server (tests/fakes/vertex_api.py) records what the SDK sends;
the SDK's pre-submit bucket check goes to the Cloud Storage emulator.
"""

import json

import pytest
import yaml

from pipelines.cli import main
from pipelines.vertex.api_errors import VertexApiError
from tests.pipelines.vertex.conftest import compile_templates


def submit(template_dir, *extra: str) -> None:
    main(["submit", "vision", "--template-dir", str(template_dir), "--poll-seconds", "0", *extra])


def without_caching(spec):
    """The spec minus task caching options, which ENABLE_CACHING rewrites on submission."""
    if isinstance(spec, dict):
        return {k: without_caching(v) for k, v in spec.items() if k != "cachingOptions"}
    return spec


def test_submit_sends_the_compiled_pipeline_with_the_settings(
    template_dir, vertex_api, vertex_env, capsys
):
    submit(template_dir, "--set", "source_uri=gs://data/flowers", "--set", "head_epochs=3")

    [create] = vertex_api.calls("POST", r"/pipelineJobs$")
    assert create.path == "/v1/projects/my-project/locations/europe-west4/pipelineJobs"
    body = create.body
    assert body["displayName"].startswith("image-classification-")
    assert create.query["pipelineJobId"] == body["displayName"]
    compiled = yaml.safe_load((template_dir / "vision.yaml").read_text())
    assert without_caching(body["pipelineSpec"]) == without_caching(compiled)
    runtime = body["runtimeConfig"]
    assert runtime["gcsOutputDirectory"] == vertex_env["PIPELINE_ROOT"]
    assert runtime["parameterValues"] == {
        "source_uri": "gs://data/flowers",
        "head_epochs": 3,
        "endpoint_service_account": vertex_env["VERTEX_ENDPOINT_SERVICE_ACCOUNT"],
    }
    assert body["serviceAccount"] == vertex_env["VERTEX_SERVICE_ACCOUNT"]
    assert body["network"] == vertex_env["VERTEX_NETWORK"]
    assert body["labels"] == {"team": "ml", "env": "dev", "pipeline": "vision"}
    tasks = body["pipelineSpec"]["root"]["dag"]["tasks"]
    # evaluate is compiled cached (ingest never is: pipelines.targets.never_cached)
    assert compiled["root"]["dag"]["tasks"]["evaluate-image-classifier"]["cachingOptions"][
        "enableCache"
    ]
    assert not any(t["cachingOptions"].get("enableCache") for t in tasks.values())
    assert (
        "Submitted projects/my-project/locations/europe-west4/pipelineJobs/"
        in capsys.readouterr().out
    )
    assert not vertex_api.calls("GET", r"/pipelineJobs/")  # no WAIT: submit and return


def test_the_sdk_bucket_check_reaches_storage_and_does_not_hang(
    template_dir, vertex_api, vertex_env, monkeypatch
):
    """Before it submits, the SDK gets or creates the pipeline-root bucket (the emulator's
    here), and checks that an existing one belongs to the project."""
    from google.cloud import storage

    monkeypatch.setenv("PIPELINE_ROOT", "gs://fresh-pipeline-root/runs")
    bucket = storage.Client(project="my-project").bucket("fresh-pipeline-root")
    assert not bucket.exists()
    submit(template_dir, "--set", "source_uri=gs://data/flowers")
    assert bucket.exists()  # created by the SDK's check
    assert vertex_api.project_lookups == []
    submit(template_dir, "--set", "source_uri=gs://data/flowers")
    assert vertex_api.project_lookups == ["my-project"]  # ownership of the existing bucket
    runs = vertex_api.calls("POST", r"/pipelineJobs$")
    assert len(runs) == 2 and runs[0].query["pipelineJobId"] != runs[1].query["pipelineJobId"]


def test_wait_follows_the_run_to_success(template_dir, vertex_api, vertex_env, capsys):
    vertex_api.run_states = [
        "PIPELINE_STATE_RUNNING",
        "PIPELINE_STATE_RUNNING",
        "PIPELINE_STATE_SUCCEEDED",
    ]
    submit(template_dir, "--set", "source_uri=gs://data/flowers", "--wait")
    out = capsys.readouterr().out
    assert out.index("PIPELINE_STATE_RUNNING") < out.index("PIPELINE_STATE_SUCCEEDED")
    assert out.count("PIPELINE_STATE_RUNNING") == 1  # state changes only
    assert len(vertex_api.calls("GET", r"/pipelineJobs/")) == 3


def test_wait_reports_a_failed_run_with_its_error(template_dir, vertex_api, vertex_env):
    vertex_api.run_states = ["PIPELINE_STATE_RUNNING", "PIPELINE_STATE_FAILED"]
    vertex_api.run_error = "The replica workerpool0-0 exited with a non-zero status of 1."
    with pytest.raises(VertexApiError) as failed:
        submit(template_dir, "--set", "source_uri=gs://data/flowers", "--wait")
    message = str(failed.value)
    assert "ended PIPELINE_STATE_FAILED" in message
    assert "workerpool0-0 exited with a non-zero status" in message
    assert "console.cloud.google.com/vertex-ai/locations/europe-west4/pipelines/runs/" in message


@pytest.mark.parametrize(
    ("status", "reason", "fix"),
    [
        (403, "Permission 'aiplatform.pipelineJobs.create' denied", "iam.serviceAccountUser"),
        (429, "Quota exceeded for aiplatform.googleapis.com/custom_model_training_cpus", "quota"),
        (404, "Project my-project not found", "check GOOGLE_CLOUD_PROJECT and VERTEX_REGION"),
    ],
)
def test_api_errors_are_one_message_with_the_resource_and_fix(
    template_dir, vertex_api, vertex_env, status, reason, fix
):
    vertex_api.failures.append(("POST", r"/pipelineJobs$", status, reason))
    with pytest.raises(VertexApiError) as failed:
        submit(template_dir, "--set", "source_uri=gs://data/flowers")
    message = str(failed.value)
    assert "projects/my-project/locations/europe-west4" in message
    assert f"HTTP {status}" in message and reason in message and fix in message
    assert "Traceback" not in message and len(message.splitlines()) == 2


def test_dry_run_sends_nothing_and_prints_the_request(template_dir, vertex_api, vertex_env, capsys):
    submit(template_dir, "--set", "source_uri=gs://data/flowers", "--dry-run")
    out = capsys.readouterr().out
    assert vertex_api.requests == []
    assert "Dry run: nothing was sent" in out
    assert "/v1/projects/my-project/locations/europe-west4/pipelineJobs?pipelineJobId=" in out
    assert (
        '"source_uri": "gs://data/flowers"' in out and vertex_env["VERTEX_SERVICE_ACCOUNT"] in out
    )
    assert "us-central1-docker.pkg.dev/my-project/mlops/pipeline:v1" in out
    saved = json.loads((template_dir / "vision.request.json").read_text())
    assert saved["pipelineSpec"]["pipelineInfo"]["name"] == "image-classification"


def test_dry_run_works_without_an_endpoint_or_credentials(
    template_dir, vertex_env, monkeypatch, capsys
):
    monkeypatch.delenv("VERTEX_API_ENDPOINT")
    submit(template_dir, "--set", "source_uri=gs://data/flowers", "--dry-run")
    assert (
        "https://europe-west4-aiplatform.googleapis.com/v1/projects/my-project"
        in capsys.readouterr().out
    )


SOURCE = ["--set", "source_uri=gs://d/i"]


def test_an_endpoint_account_given_as_a_parameter_wins_over_the_setting(
    template_dir, vertex_api, vertex_env
):
    other = "other-endpoints@my-project.iam.gserviceaccount.com"
    submit(template_dir, *SOURCE, "--set", f"endpoint_service_account={other}")
    [create] = vertex_api.calls("POST", r"/pipelineJobs$")
    assert create.body["runtimeConfig"]["parameterValues"]["endpoint_service_account"] == other


def test_the_notification_emails_get_the_monitoring_alerts_unless_given(
    template_dir, vertex_api, vertex_env, monkeypatch
):
    monkeypatch.setenv("VERTEX_NOTIFICATION_EMAILS", "ml-team@example.com,oncall@example.com")
    submit(template_dir, *SOURCE)
    submit(template_dir, *SOURCE, "--set", 'monitoring_alert_emails=["me@example.com"]')
    first, second = (
        c.body["runtimeConfig"]["parameterValues"]
        for c in vertex_api.calls("POST", r"/pipelineJobs$")
    )
    assert first["monitoring_alert_emails"] == ["ml-team@example.com", "oncall@example.com"]
    assert second["monitoring_alert_emails"] == ["me@example.com"]


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (SOURCE, {"GOOGLE_CLOUD_PROJECT": ""}, "GOOGLE_CLOUD_PROJECT is not set"),
        (SOURCE, {"PIPELINE_ROOT": "build/root"}, "'build/root' is not a gs:// URI"),
        ([*SOURCE, "--set", "epochs=3"], {}, r"no such parameter\. Valid: .*head_epochs"),
        ([*SOURCE, "--set", "head_epochs=many"], {}, "expected an int, e.g. --set head_epochs=3"),
        ([*SOURCE, "--set", "traffic_split=all"], {}, "expected a dict"),
        ([*SOURCE, "--set", "head_epochs=0"], {}, r"head_epochs=0 is out of range: .* 1 to 10,000"),
        ([*SOURCE, "--set", "seed=-1"], {}, r"seed=-1 is out of range"),
        ([*SOURCE, "--set", "model_name=../x"], {}, r"model_name='\.\./x' is not allowed"),
        ([*SOURCE, "--set", "image_size=10000"], {}, r"image_size=10000 is out of range"),
        ([*SOURCE, "--set", "accuracy_threshold=1.5"], {}, "accuracy_threshold=1.5 is out of"),
        ([], {}, r"vision needs a value for source_uri: add --set source_uri=\.\.\."),
    ],
)
def test_bad_input_stops_before_any_request(
    template_dir, vertex_api, vertex_env, monkeypatch, args, env, message
):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SystemExit, match=message):
        submit(template_dir, *args)
    assert vertex_api.requests == []


def test_unknown_pipeline_and_missing_template_are_refused(tmp_path, vertex_api, vertex_env):
    unknown = "Unknown pipeline 'vison': choose one of text, timeseries, vision"
    with pytest.raises(SystemExit, match=unknown):
        main(["submit", "vison", "--template-dir", str(tmp_path)])
    with pytest.raises(SystemExit, match=r"vision\.yaml does not exist: run `make compile` first"):
        main(["submit", "vision", "--template-dir", str(tmp_path), "--set", "source_uri=gs://d/i"])
    assert vertex_api.requests == []


def test_a_template_compiled_without_pipeline_image_is_refused(tmp_path, vertex_api, vertex_env):
    compile_templates(tmp_path, image=None)
    with pytest.raises(
        SystemExit, match=r"(?s)placeholder image: set PIPELINE_IMAGE.*make compile"
    ):
        submit(tmp_path, "--set", "source_uri=gs://data/flowers")
    assert vertex_api.requests == []


@pytest.mark.parametrize("seconds", ["inf", "nan", "-1", "1e300"])
def test_a_poll_interval_out_of_range_is_refused_by_name(seconds, capsys):
    with pytest.raises(SystemExit):
        main(["submit", "vision", "--wait", "--poll-seconds", seconds])
    err = capsys.readouterr().err
    assert f"--poll-seconds={float(seconds)!r} is out of range: it must be from 0 to 3,600" in err
    assert "Traceback" not in err
