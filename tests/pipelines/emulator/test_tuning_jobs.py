"""The emulator's HyperparameterTuningJobs through the real aiplatform_v1 clients (gRPC and REST).

The trials run a tiny trial process (tests/trainer/tuning/quadratic_trial.py) that reports
with cloudml-hypertune: no training. The compiled Vertex pipeline's tuning on the emulator,
with GCPC's launcher and real trials, is in test_emulated_pipelines.py.
"""

import json
import time

import grpc
import pytest
from google.api_core import exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import aiplatform_v1 as v1
from google.cloud.aiplatform import hyperparameter_tuning as hpt
from google_cloud_pipeline_components.v1.hyperparameter_tuning_job import (
    serialize_metrics,
    serialize_parameters,
)

from pipelines.emulator.rpc.grpc_server import running_grpc_server
from pipelines.emulator.rpc.rest_gateway import running_rest_gateway
from pipelines.emulator.vertex.state import EmulatorState
from pipelines.emulator.vertex.tuning_jobs import TuningJobService
from tests.conftest import REPO
from trainer.tuning.result import study_result, vertex_trials

PARENT = "projects/test-project/locations/us-central1"
TRIAL = str(REPO / "tests" / "trainer" / "tuning" / "quadratic_trial.py")


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    state = EmulatorState("test-project", "us-central1")
    home = tmp_path_factory.mktemp("home")
    service = TuningJobService(state, dict, home, lambda: None, lambda: None, lambda _: None)
    with (
        running_grpc_server(service.rpcs(), on_request=state.observe) as grpc_port,
        running_rest_gateway(service.rpcs(), on_request=state.observe) as rest_port,
    ):
        yield {"state": state, "home": home, "grpc": grpc_port, "rest": rest_port}


def jobs_client(api: dict, transport: str) -> v1.JobServiceClient:
    if transport == "rest":
        return v1.JobServiceClient(
            transport="rest",
            client_options={"api_endpoint": f"http://127.0.0.1:{api['rest']}"},
            credentials=AnonymousCredentials(),
        )
    channel = grpc.insecure_channel(f"127.0.0.1:{api['grpc']}")
    transport_class = type(v1.JobServiceClient.get_transport_class("grpc")(channel=channel))
    return v1.JobServiceClient(transport=transport_class(channel=channel))


def tuning_job(parameters: dict, algorithm="GRID_SEARCH", trials=3, parallel=1, **job) -> dict:
    """A job as GCPC's HyperparameterTuningJobRunOp sends it (its serialize helpers)."""
    return {
        "display_name": "tune-quadratic",
        "study_spec": {
            "metrics": serialize_metrics({"score": "maximize"}),
            "parameters": serialize_parameters(parameters),
            "algorithm": algorithm,
        },
        "max_trial_count": trials,
        "parallel_trial_count": parallel,
        "trial_job_spec": {
            "worker_pool_specs": [
                {
                    "machine_spec": {"machine_type": "n1-standard-4"},
                    "replica_count": 1,
                    "container_spec": {
                        "image_uri": "us-docker.pkg.dev/p/r/pipeline:1",
                        "command": ["python3", TRIAL],
                        "args": ["--crash-at=2"],
                    },
                }
            ],
            "base_output_directory": {"output_uri_prefix": "gs://bucket/run/tune"},
        },
        **job,
    }


def wait_for_end(jobs, name: str, timeout_s: float = 60) -> v1.HyperparameterTuningJob:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = jobs.get_hyperparameter_tuning_job(name=name)
        if job.state in (v1.JobState.JOB_STATE_SUCCEEDED, v1.JobState.JOB_STATE_FAILED):
            return job
        time.sleep(0.1)
    raise AssertionError(f"{name} did not end within {timeout_s} s: {job.state.name}")


def test_a_tuning_job_runs_its_trials_and_answers_them_as_vertex_does(api):
    jobs = jobs_client(api, "grpc")
    values = hpt.DiscreteParameterSpec(values=[1, 2, 3], scale="linear")
    job = jobs.create_hyperparameter_tuning_job(
        parent=PARENT, hyperparameter_tuning_job=tuning_job({"x": values})
    )
    assert job.state == v1.JobState.JOB_STATE_PENDING

    ended = wait_for_end(jobs_client(api, "rest"), job.name)

    assert ended.state == v1.JobState.JOB_STATE_SUCCEEDED, ended.error.message
    payload = json.loads(v1.HyperparameterTuningJob.to_json(ended, use_integers_for_enums=False))
    by_x = {t["parameters"][0]["value"]: t for t in payload["trials"]}
    assert sorted(by_x) == [1, 2, 3] and sorted(t["id"] for t in by_x.values()) == ["1", "2", "3"]
    assert by_x[2]["state"] == "INFEASIBLE"
    assert "exited with a non-zero status of 3" in by_x[2]["infeasibleReason"]
    assert by_x[3]["finalMeasurement"]["metrics"] == [{"metricId": "score", "value": 0.0}]
    # The best trial, read as the pipeline's best-trial step reads it.
    result = study_result("score", "maximize", vertex_trials(payload["trials"]))
    assert result["best"] == {"x": 3.0} and result["best_trial"] == by_x[3]["id"]
    # Each trial in its own directory, its values appended to the args as Vertex appends them.
    job_dir = api["home"] / "tuning" / job.name.rsplit("/", 1)[-1]
    assert sorted(p.name for p in (job_dir / "trials").iterdir()) == ["1", "2", "3"]
    [request] = api["state"].calls("CreateHyperparameterTuningJob")
    assert request.hyperparameter_tuning_job.max_trial_count == 3


def no_goal() -> dict:
    job = tuning_job({"x": hpt.IntegerParameterSpec(1, 3, "linear")})
    job["study_spec"]["metrics"] = [{"metric_id": "score"}]
    return job


BAD_JOBS = {
    "a metric without a goal": (no_goal, "needs a goal"),
    "grid search over decimals": (
        lambda: tuning_job({"x": hpt.DoubleParameterSpec(min=0, max=1, scale="linear")}),
        "GRID_SEARCH takes integer, categorical and discrete parameters only",
    ),
    "no trials at once": (
        lambda: tuning_job({"x": hpt.IntegerParameterSpec(1, 3, "linear")}, parallel=0),
        "parallel_trial_count must be positive",
    ),
    "min above max": (
        lambda: tuning_job({"x": hpt.IntegerParameterSpec(5, 1, "linear")}, "RANDOM_SEARCH"),
        "must be below max_value",
    ),
}


@pytest.mark.parametrize("name", BAD_JOBS)
def test_a_tuning_job_vertex_refuses_is_refused(api, name):
    job, message = BAD_JOBS[name]
    with pytest.raises(exceptions.BadRequest, match=message):
        jobs_client(api, "rest").create_hyperparameter_tuning_job(
            parent=PARENT, hyperparameter_tuning_job=job()
        )
