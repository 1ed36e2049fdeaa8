"""Endpoints on the emulator: deploy and undeploy start and stop real serving processes,
traffic splits are checked as Vertex checks them and route predictions, over the real
aiplatform_v1 clients. The serving container is a small real HTTP server
(echo_container.py) instead of a TensorFlow model, so that each case takes a second.
"""

from __future__ import annotations

import sys

import pytest
from google.api_core import exceptions
from google.cloud import aiplatform_v1 as v1

from tests.pipelines.emulator.vertex_api import ECHO_CONTAINER, running_vertex_api

PARENT = "projects/test-project/locations/us-central1"
RESOURCES = {"machine_spec": {"machine_type": "n1-standard-2"}, "min_replica_count": 1}


@pytest.fixture(scope="module")
def clients(tmp_path_factory):
    with running_vertex_api("test-project", "us-central1", tmp_path_factory.mktemp("l")) as api:
        yield {
            "models": api.client(v1.ModelServiceClient),
            "endpoints": api.client(v1.EndpointServiceClient),
            "prediction": api.client(v1.PredictionServiceClient),
            "service": api.endpoints,
        }


def upload(clients, command: list[str]) -> str:
    model = {
        "display_name": "echo",
        "artifact_uri": "gs://test-bucket/echo",
        "container_spec": {"image_uri": "echo:1", "command": command},
    }
    response = clients["models"].upload_model(parent=PARENT, model=model).result()
    return f"{response.model}@{response.model_version_id}"


def new_endpoint(clients) -> str:
    return (
        clients["endpoints"]
        .create_endpoint(parent=PARENT, endpoint={"display_name": "echo"})
        .result()
        .name
    )


def deploy(clients, endpoint: str, model: str, split: dict) -> v1.DeployedModel:
    operation = clients["endpoints"].deploy_model(
        endpoint=endpoint,
        deployed_model={"model": model, "dedicated_resources": RESOURCES},
        traffic_split=split,
    )
    return operation.result(timeout=120).deployed_model


def test_traffic_follows_the_split_and_undeploy_needs_one(clients):
    endpoint = new_endpoint(clients)
    model = upload(clients, [sys.executable, ECHO_CONTAINER])
    first = deploy(clients, endpoint, model, {"0": 100})
    second = deploy(clients, endpoint, model, {"0": 30, first.id: 70})
    answered = {
        clients["prediction"].predict(endpoint=endpoint, instances=[1]).deployed_model_id
        for _ in range(40)
    }
    assert answered == {first.id, second.id}
    with pytest.raises(exceptions.InvalidArgument, match="receives traffic"):
        clients["endpoints"].undeploy_model(endpoint=endpoint, deployed_model_id=first.id)
    server = clients["service"].servers[first.id]
    clients["endpoints"].undeploy_model(
        endpoint=endpoint, deployed_model_id=first.id, traffic_split={second.id: 100}
    ).result(timeout=60)
    assert server.process.poll() is not None  # its container stopped
    answer = clients["prediction"].predict(endpoint=endpoint, instances=[1, 2])
    assert answer.deployed_model_id == second.id
    assert [p["x"] for p in answer.predictions] == [1, 2]
    assert clients["models"].get_model(name=model).deployed_models[0].deployed_model_id == (
        second.id
    )


def test_splits_vertex_refuses_are_refused(clients):
    endpoint = new_endpoint(clients)
    model = upload(clients, [sys.executable, ECHO_CONTAINER])
    with pytest.raises(exceptions.InvalidArgument, match="add up to 100"):
        deploy(clients, endpoint, model, {"0": 60})
    with pytest.raises(exceptions.InvalidArgument, match="not deployed"):
        deploy(clients, endpoint, model, {"0": 50, "123": 50})
    with pytest.raises(exceptions.FailedPrecondition, match="no deployed model"):
        clients["prediction"].predict(endpoint=endpoint, instances=[1])


def test_a_container_error_and_a_container_without_a_command(clients):
    endpoint = new_endpoint(clients)
    deploy(clients, endpoint, upload(clients, [sys.executable, ECHO_CONTAINER]), {"0": 100})
    with pytest.raises(exceptions.InvalidArgument, match="not a number"):
        clients["prediction"].predict(endpoint=endpoint, instances=["bad"])
    with pytest.raises(exceptions.FailedPrecondition, match="undeploy them first"):
        clients["endpoints"].delete_endpoint(name=endpoint)
    no_command = upload(clients, [])
    with pytest.raises(exceptions.FailedPrecondition, match="has no command"):
        deploy(clients, new_endpoint(clients), no_command, {"0": 100})
