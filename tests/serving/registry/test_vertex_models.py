"""serving/registry/vertex_models.py: the parent model and endpoint a Vertex AI deployment reuses.

The real google-cloud-aiplatform SDK (REST transport, anonymous credentials)
talks to the Vertex AI emulator's own services (tests/pipelines/emulator/
vertex_api.py), which answer as Vertex does and record every request.
Tested: lookups by display name (the filter and order sent, the oldest match
chosen), an endpoint created once and then reused, bad names refused before
any request, API errors passed on, idle models undeployed, and the champion
found by its alias.
"""

import logging
import sys

import grpc
import pytest
from google.api_core import exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import aiplatform
from google.cloud import aiplatform_v1 as v1

from serving.registry.vertex_models import (
    champion_artifact_uri,
    find_parent_model,
    get_or_create_endpoint,
    undeploy_idle_models,
)
from tests.pipelines.emulator.vertex_api import ECHO_CONTAINER, running_vertex_api

PROJECT, LOCATION = "my-project", "us-central1"
PARENT = f"projects/{PROJECT}/locations/{LOCATION}"
RESOURCES = {"machine_spec": {"machine_type": "n1-standard-2"}, "min_replica_count": 1}


@pytest.fixture
def api(tmp_path, saved_aiplatform_config):
    """A fresh emulated Vertex AI API, with the SDK pointed at it (settings restored after)."""
    with running_vertex_api(PROJECT, LOCATION, tmp_path) as api:
        aiplatform.init(
            project=PROJECT,
            location=LOCATION,
            api_endpoint=api.rest_url,
            api_transport="rest",
            credentials=AnonymousCredentials(),
        )
        yield api


def upload(api, display_name: str, aliases=(), command=()) -> v1.UploadModelResponse:
    model = {
        "display_name": display_name,
        "artifact_uri": f"gs://test-models/{display_name}",
        "container_spec": {"image_uri": "serving:1", "command": list(command)},
        "version_aliases": list(aliases),
    }
    return api.client(v1.ModelServiceClient).upload_model(parent=PARENT, model=model).result()


def create_endpoint(api, display_name: str) -> str:
    client = api.client(v1.EndpointServiceClient)
    return (
        client.create_endpoint(parent=PARENT, endpoint={"display_name": display_name}).result().name
    )


def test_no_parent_model_before_the_first_upload(api):
    upload(api, "vision-v0")
    api.state.requests.clear()
    assert find_parent_model("vision", PROJECT, LOCATION) is None
    [lookup] = api.state.calls("ListModels")
    assert lookup.parent == PARENT
    assert lookup.filter == 'display_name="vision"'
    assert lookup.order_by == "create_time"


def test_new_versions_go_under_the_oldest_model_of_that_name(api, caplog):
    oldest = upload(api, "vision").model
    upload(api, "other")
    upload(api, "vision")
    api.state.requests.clear()
    with caplog.at_level(logging.WARNING, logger="serving.registry.vertex_models"):
        assert find_parent_model("vision", PROJECT, LOCATION) == oldest
    assert "2 models are named 'vision'" in caplog.text
    assert [r.method for r in api.state.requests] == ["ListModels"]


def test_the_endpoint_is_created_once_then_reused(api):
    name = get_or_create_endpoint("vision", PROJECT, LOCATION)
    [create] = api.state.calls("CreateEndpoint")
    assert create.parent == PARENT and create.endpoint.display_name == "vision"
    assert name.startswith(f"{PARENT}/endpoints/")
    assert get_or_create_endpoint("vision", PROJECT, LOCATION) == name
    assert len(api.state.calls("CreateEndpoint")) == 1  # no second endpoint
    lookups = api.state.calls("ListEndpoints")
    assert [r.filter for r in lookups] == ['display_name="vision"'] * 2
    assert not api.state.calls("GetEndpoint")  # the create answer is used as it is


def test_an_existing_endpoint_is_reused_by_display_name(api):
    create_endpoint(api, "other")
    existing = create_endpoint(api, "vision")
    assert get_or_create_endpoint("vision", PROJECT, LOCATION) == existing
    assert len(api.state.calls("CreateEndpoint")) == 2  # the two above, no third


def test_the_project_and_region_passed_win_over_the_sdk_defaults(api):
    """The components pass the pipeline run's project and region explicitly."""
    aiplatform.init(project="sdk-default-project", location="europe-west4")
    name = get_or_create_endpoint("vision", PROJECT, LOCATION)
    assert name.startswith(f"{PARENT}/endpoints/")
    assert {r.request.parent for r in api.state.requests} == {PARENT}


@pytest.mark.parametrize(
    ("lookup", "parameter"),
    [(find_parent_model, "model_name"), (get_or_create_endpoint, "endpoint_name")],
)
@pytest.mark.parametrize("display_name", ["", 'vision"', "v" * 129])
def test_bad_display_names_are_refused_before_any_request(api, lookup, parameter, display_name):
    with pytest.raises(ValueError, match=f"^{parameter} .*without double quotes"):
        lookup(display_name, PROJECT, LOCATION)
    assert api.state.requests == []


@pytest.mark.parametrize(
    ("lookup", "method", "calls"),
    [
        (find_parent_model, "ListModels", ["ListModels"]),
        (get_or_create_endpoint, "ListEndpoints", ["ListEndpoints"]),
        (get_or_create_endpoint, "CreateEndpoint", ["ListEndpoints", "CreateEndpoint"]),
    ],
)
def test_api_errors_are_passed_on(api, lookup, method, calls):
    api.state.fail(method, grpc.StatusCode.PERMISSION_DENIED, "Permission 'aiplatform.x' denied")
    with pytest.raises(exceptions.ClientError) as failed:
        lookup("vision", PROJECT, LOCATION)
    # Over REST google-api-core maps the HTTP status (403: Forbidden); over gRPC, the
    # SDK's default on Vertex AI, the same error is PermissionDenied. Both have code 403,
    # which pipelines/vertex/api_errors.py explains.
    assert isinstance(failed.value, exceptions.Forbidden | exceptions.PermissionDenied)
    assert failed.value.code == 403
    assert "Permission 'aiplatform.x' denied" in failed.value.message
    assert [r.method for r in api.state.requests] == calls  # no retry, nothing after


def deploy(api, endpoint: str, model: str, split: dict) -> str:
    client = api.client(v1.EndpointServiceClient)
    deployed = {"model": model, "dedicated_resources": RESOURCES}
    operation = client.deploy_model(endpoint=endpoint, deployed_model=deployed, traffic_split=split)
    return operation.result(timeout=120).deployed_model.id


def test_models_left_without_traffic_are_undeployed(api):
    model = upload(api, "vision", command=[sys.executable, ECHO_CONTAINER]).model
    endpoint = create_endpoint(api, "vision")
    first = deploy(api, endpoint, model, {"0": 100})
    second = deploy(api, endpoint, model, {"0": 100, first: 0})
    third = deploy(api, endpoint, model, {"0": 100, first: 0, second: 0})
    assert undeploy_idle_models(endpoint, PROJECT, LOCATION) == [first, second]
    undeploys = api.state.calls("UndeployModel")
    assert [r.deployed_model_id for r in undeploys] == [first, second]
    deployed = api.client(v1.EndpointServiceClient).get_endpoint(name=endpoint).deployed_models
    assert [m.id for m in deployed] == [third]


def test_a_canary_split_keeps_both_models(api):
    model = upload(api, "vision", command=[sys.executable, ECHO_CONTAINER]).model
    endpoint = create_endpoint(api, "vision")
    first = deploy(api, endpoint, model, {"0": 100})
    deploy(api, endpoint, model, {"0": 10, first: 90})
    assert undeploy_idle_models(endpoint, PROJECT, LOCATION) == []
    assert not api.state.calls("UndeployModel")


def test_the_champion_is_the_version_aliased_champion(api):
    assert champion_artifact_uri("vision", PROJECT, LOCATION) == ""  # no model yet
    uploaded = upload(api, "vision", aliases=["v1"])
    assert champion_artifact_uri("vision", PROJECT, LOCATION) == ""  # no champion alias yet
    api.client(v1.ModelServiceClient).merge_version_aliases(
        name=f"{uploaded.model}@1", version_aliases=["champion"]
    )
    assert champion_artifact_uri("vision", PROJECT, LOCATION) == "gs://test-models/vision"
    assert any(r.name.endswith("@champion") for r in api.state.calls("GetModel"))
