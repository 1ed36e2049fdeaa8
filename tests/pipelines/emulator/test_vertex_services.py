"""The emulator's Vertex AI services, called by the real aiplatform_v1 clients over gRPC and REST.

The services run in this process behind the emulator's own gRPC and REST
servers (no proxy: tests/pipelines/emulator/test_network_*.py cover it), so
each check is what a Vertex client sees: versions and aliases, refusals with
Vertex's status, custom-job replicas with Vertex's cluster variables, a
failing replica failing its job with its log.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import grpc
import pytest
from google.api_core import exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import aiplatform_v1 as v1

from pipelines.emulator.rpc.grpc_server import running_grpc_server
from pipelines.emulator.rpc.rest_gateway import running_rest_gateway
from pipelines.emulator.vertex.jobs import JobService
from pipelines.emulator.vertex.models import ModelService
from pipelines.emulator.vertex.operations import Operations
from pipelines.emulator.vertex.pipeline_jobs import PipelineService
from pipelines.emulator.vertex.state import EmulatorState

PARENT = "projects/test-project/locations/us-central1"


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    state = EmulatorState("test-project", "us-central1")
    operations = Operations(state)
    logs = tmp_path_factory.mktemp("logs")
    jobs = JobService(state, operations, dict, logs, lambda: None, lambda: None, lambda _: None)
    models = ModelService(state, operations)
    pipelines = PipelineService(state, lambda *_: None, lambda _: None)
    rpcs = [*operations.rpcs(), *jobs.rpcs(), *models.rpcs(), *pipelines.rpcs()]
    with running_grpc_server(rpcs) as grpc_port, running_rest_gateway(rpcs) as rest_port:
        yield {"grpc": grpc_port, "rest": rest_port, "logs": logs, "state": state}


def client(kind: type, services: dict, transport: str):
    if transport == "rest":
        return kind(
            transport="rest",
            client_options={"api_endpoint": f"http://127.0.0.1:{services['rest']}"},
            credentials=AnonymousCredentials(),
        )
    channel = grpc.insecure_channel(f"127.0.0.1:{services['grpc']}")
    transport_class = type(kind.get_transport_class("grpc")(channel=channel))
    return kind(transport=transport_class(channel=channel))


def model(uri: str, aliases=()) -> dict:
    return {
        "display_name": "vision",
        "artifact_uri": uri,
        "container_spec": {"image_uri": "us-docker.pkg.dev/p/r/serving:1"},
        "version_aliases": list(aliases),
    }


def test_versions_and_aliases_move_with_uploads(services):
    grpc_models = client(v1.ModelServiceClient, services, "grpc")
    rest_models = client(v1.ModelServiceClient, services, "rest")
    first = grpc_models.upload_model(
        parent=PARENT, model=model("gs://bucket-a/m1", ["champion"])
    ).result()
    second = rest_models.upload_model(
        request={
            "parent": PARENT,
            "parent_model": first.model,
            "model": model("gs://bucket-a/m2", ["champion"]),
        }
    ).result()
    assert (first.model_version_id, second.model_version_id) == ("1", "2")
    assert second.model == first.model
    champion = rest_models.get_model(name=f"{first.model}@champion")
    assert (champion.version_id, champion.artifact_uri) == ("2", "gs://bucket-a/m2")
    default = grpc_models.get_model(name=first.model)
    assert default.version_id == "1" and default.version_aliases == ["default"]
    listed = grpc_models.list_models(request={"parent": PARENT, "filter": 'display_name="vision"'})
    assert [m.name for m in listed] == [first.model]
    with pytest.raises(exceptions.NotFound, match="@nosuch"):
        rest_models.get_model(name=f"{first.model}@nosuch")


@pytest.mark.parametrize("transport", ["grpc", "rest"])
def test_requests_vertex_refuses_are_refused(services, transport):
    models = client(v1.ModelServiceClient, services, transport)
    with pytest.raises(exceptions.BadRequest, match="artifact_uri"):
        models.upload_model(parent=PARENT, model=model("/tmp/local/model"))
    with pytest.raises(exceptions.Forbidden, match="other-project"):
        models.upload_model(
            parent="projects/other-project/locations/us-central1", model=model("gs://bucket-a/m")
        )
    jobs = client(v1.JobServiceClient, services, transport)
    pool = {
        "machine_spec": {"machine_type": "n1-standard-4", "accelerator_count": 1},
        "replica_count": 1,
        "container_spec": {"image_uri": "image"},
    }
    with pytest.raises(exceptions.BadRequest, match="accelerator_type"):
        jobs.create_custom_job(
            parent=PARENT,
            custom_job={"display_name": "j", "job_spec": {"worker_pool_specs": [pool]}},
        )


def wait_for_end(jobs, name: str) -> v1.CustomJob:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = jobs.get_custom_job(name=name)
        if job.state in (v1.JobState.JOB_STATE_SUCCEEDED, v1.JobState.JOB_STATE_FAILED):
            return job
        time.sleep(0.2)
    raise AssertionError(f"{name} did not end")


def replica_pool(code: str, replicas: int = 1) -> dict:
    return {
        "machine_spec": {"machine_type": "n1-standard-4"},
        "replica_count": replicas,
        "container_spec": {"image_uri": "image", "command": [sys.executable, "-c", code]},
    }


def test_replicas_get_vertex_cluster_variables(services):
    jobs = client(v1.JobServiceClient, services, "grpc")
    code = (
        "import json, os; c = json.loads(os.environ['CLUSTER_SPEC']); "
        "t = json.loads(os.environ['TF_CONFIG']); "
        "print(json.dumps([c['task'], t['task']['type'], sorted(t['cluster']), "
        "os.environ['AIP_CHECKPOINT_DIR']]))"
    )
    job = jobs.create_custom_job(
        parent=PARENT,
        custom_job={
            "display_name": "two-pools",
            "job_spec": {
                "worker_pool_specs": [replica_pool(code), replica_pool(code, 2)],
                "base_output_directory": {"output_uri_prefix": "gs://bucket-a/run-1/train"},
            },
        },
    )
    assert job.state == v1.JobState.JOB_STATE_PENDING
    assert wait_for_end(jobs, job.name).state == v1.JobState.JOB_STATE_SUCCEEDED
    logs = Path(services["logs"]) / job.name.rsplit("/", 1)[-1]
    seen = {p.stem: json.loads(p.read_text().splitlines()[-1]) for p in logs.glob("*.log")}
    assert set(seen) == {"workerpool0-0", "workerpool1-0", "workerpool1-1"}
    task, role, roles, checkpoints = seen["workerpool1-1"]
    assert task["type"] == "workerpool1" and task["index"] == 1
    assert role == "worker" and roles == ["chief", "worker"]
    assert seen["workerpool0-0"][1] == "chief"
    assert checkpoints == "gs://bucket-a/run-1/train/checkpoints/"


def test_a_failing_replica_fails_the_job_with_its_log(services):
    jobs = client(v1.JobServiceClient, services, "rest")
    code = "import sys; print('loading data'); sys.exit('ValueError: no images under gs://x')"
    job = jobs.create_custom_job(
        parent=PARENT,
        custom_job={
            "display_name": "fails",
            "job_spec": {"worker_pool_specs": [replica_pool(code)]},
        },
    )
    ended = wait_for_end(jobs, job.name)
    assert ended.state == v1.JobState.JOB_STATE_FAILED
    assert "workerpool0-0 exited with a non-zero status of 1" in ended.error.message
    assert "no images under gs://x" in ended.error.message


def test_a_pipeline_run_with_an_undeclared_parameter_is_refused(services):
    pipelines = client(v1.PipelineServiceClient, services, "rest")
    spec = {
        "pipelineInfo": {"name": "p"},
        "root": {"inputDefinitions": {"parameters": {"n": {"parameterType": "NUMBER_INTEGER"}}}},
    }
    job = {
        "pipeline_spec": spec,
        "runtime_config": {"gcs_output_directory": "gs://bucket-a/root"},
    }
    with pytest.raises(exceptions.BadRequest, match="no parameter m"):
        pipelines.create_pipeline_job(
            parent=PARENT,
            pipeline_job={
                **job,
                "runtime_config": {**job["runtime_config"], "parameter_values": {"m": 1}},
            },
        )
    with pytest.raises(exceptions.BadRequest, match="n is a NUMBER_INTEGER"):
        pipelines.create_pipeline_job(
            parent=PARENT,
            pipeline_job={
                **job,
                "runtime_config": {**job["runtime_config"], "parameter_values": {"n": "three"}},
            },
        )
