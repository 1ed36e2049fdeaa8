"""serving/vertex_resources.py: the parent model and endpoint a Vertex AI deployment reuses.

No Vertex AI emulator exists, so the real google-cloud-aiplatform SDK (REST
transport, anonymous credentials) talks to a loopback stand-in of the Vertex
AI API (tests/fakes/vertex_api.py), which records each request and answers
in the API's wire format. Tested: lookups by display name (the filter and
order sent, the oldest match chosen), an endpoint created once and then
reused, bad names refused before any request, and API errors passed on.
"""

import logging

import pytest
from google.api_core import exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import aiplatform

from serving.vertex_resources import (
    find_parent_model,
    get_or_create_endpoint,
    undeploy_idle_models,
)
from tests.fakes.vertex_api import running_fake_vertex_api

PROJECT, LOCATION = "my-project", "us-central1"
PARENT = f"projects/{PROJECT}/locations/{LOCATION}"


@pytest.fixture(scope="module")
def server():
    """One loopback API for the module (stopping one takes half a second)."""
    with running_fake_vertex_api() as api:
        yield api


@pytest.fixture
def api(server, saved_aiplatform_config):
    """The loopback API, emptied, with the SDK pointed at it (settings restored after)."""
    server.requests.clear()
    server.resources.clear()
    server.failures.clear()
    aiplatform.init(
        project=PROJECT,
        location=LOCATION,
        api_endpoint=server.url,
        api_transport="rest",
        credentials=AnonymousCredentials(),
    )
    return server


def test_no_parent_model_before_the_first_upload(api):
    api.add("models", PARENT, {"displayName": "vision-v0"})
    assert find_parent_model("vision", PROJECT, LOCATION) is None
    [lookup] = api.requests
    assert (lookup.method, lookup.path) == ("GET", f"/v1/{PARENT}/models")
    assert lookup.query["filter"] == 'display_name="vision"'
    assert lookup.query["orderBy"] == "create_time"


def test_new_versions_go_under_the_oldest_model_of_that_name(api, caplog):
    oldest = api.add("models", PARENT, {"displayName": "vision"})
    api.add("models", PARENT, {"displayName": "other"})
    api.add("models", PARENT, {"displayName": "vision"})
    with caplog.at_level(logging.WARNING, logger="serving.vertex_resources"):
        assert find_parent_model("vision", PROJECT, LOCATION) == oldest["name"]
    assert "2 models are named 'vision'" in caplog.text
    assert [(r.method, r.query["filter"]) for r in api.requests] == [
        ("GET", 'display_name="vision"')
    ]


def test_the_endpoint_is_created_once_then_reused(api):
    name = get_or_create_endpoint("vision", PROJECT, LOCATION)
    [create] = api.calls("POST", r"/endpoints$")
    assert create.path == f"/v1/{PARENT}/endpoints"
    assert create.body == {"displayName": "vision"}
    assert name.startswith(f"{PARENT}/endpoints/")
    assert api.resources[name]["displayName"] == "vision"

    assert get_or_create_endpoint("vision", PROJECT, LOCATION) == name
    assert len(api.calls("POST", r"/endpoints")) == 1  # no second endpoint
    lookups = api.calls("GET", r"/endpoints$")
    assert [r.query["filter"] for r in lookups] == ['display_name="vision"'] * 2
    assert not api.calls("GET", r"/endpoints/")  # the create answer is used as it is


def test_an_existing_endpoint_is_reused_by_display_name(api):
    api.add("endpoints", PARENT, {"displayName": "other"})
    existing = api.add("endpoints", PARENT, {"displayName": "vision"})
    assert get_or_create_endpoint("vision", PROJECT, LOCATION) == existing["name"]
    assert not api.calls("POST", r"/endpoints")


def test_the_project_and_region_passed_win_over_the_sdk_defaults(api):
    """The components pass the pipeline run's project and region explicitly."""
    name = get_or_create_endpoint("vision", "other-project", "europe-west4")
    assert name.startswith("projects/other-project/locations/europe-west4/endpoints/")
    assert {r.path for r in api.requests} == {
        "/v1/projects/other-project/locations/europe-west4/endpoints"
    }


@pytest.mark.parametrize(
    ("lookup", "parameter"),
    [(find_parent_model, "model_name"), (get_or_create_endpoint, "endpoint_name")],
)
@pytest.mark.parametrize("display_name", ["", 'vision"', "v" * 129])
def test_bad_display_names_are_refused_before_any_request(api, lookup, parameter, display_name):
    with pytest.raises(ValueError, match=f"^{parameter} .*without double quotes"):
        lookup(display_name, PROJECT, LOCATION)
    assert api.requests == []


@pytest.mark.parametrize(
    ("lookup", "method", "path"),
    [
        (find_parent_model, "GET", r"/models$"),
        (get_or_create_endpoint, "GET", r"/endpoints$"),
        (get_or_create_endpoint, "POST", r"/endpoints$"),
    ],
)
def test_api_errors_are_passed_on(api, lookup, method, path):
    api.failures.append((method, path, 403, "Permission 'aiplatform.x' denied on my-project"))
    with pytest.raises(exceptions.ClientError) as failed:
        lookup("vision", PROJECT, LOCATION)
    # Over REST google-api-core maps the HTTP status (403: Forbidden); over gRPC, the
    # SDK's default on Vertex AI, the same error is PermissionDenied. Both have code 403,
    # which pipelines/vertex/api_errors.py explains.
    assert isinstance(failed.value, exceptions.Forbidden | exceptions.PermissionDenied)
    assert failed.value.code == 403
    assert "Permission 'aiplatform.x' denied" in failed.value.message
    assert len(api.requests) == (2 if method == "POST" else 1)  # no retry, nothing after


def endpoint_with(api, traffic: dict[str, int], deployed: list[str]) -> dict:
    models = [{"id": i, "model": f"{PARENT}/models/1@{n}"} for n, i in enumerate(deployed, 1)]
    return api.add(
        "endpoints",
        PARENT,
        {"displayName": "vision", "deployedModels": models, "trafficSplit": traffic},
    )


def test_models_left_without_traffic_are_undeployed(api):
    endpoint = endpoint_with(api, {"300": 100}, ["100", "200", "300"])
    assert undeploy_idle_models(endpoint["name"], PROJECT, LOCATION) == ["100", "200"]
    undeploys = api.calls("POST", r":undeployModel$")
    assert [r.body["deployedModelId"] for r in undeploys] == ["100", "200"]
    assert [m["id"] for m in api.resources[endpoint["name"]]["deployedModels"]] == ["300"]


def test_a_canary_split_keeps_both_models(api):
    endpoint = endpoint_with(api, {"200": 90, "300": 10}, ["200", "300"])
    assert undeploy_idle_models(endpoint["name"], PROJECT, LOCATION) == []
    assert not api.calls("POST", r":undeployModel$")


def test_the_champion_is_the_version_aliased_champion(api):
    from serving.vertex_resources import champion_artifact_uri

    assert champion_artifact_uri("vision", PROJECT, LOCATION) == ""  # no model yet
    model = api.add(
        "models",
        PARENT,
        {"displayName": "vision", "versionAliases": ["v1"], "artifactUri": "gs://b/m/1"},
    )
    assert champion_artifact_uri("vision", PROJECT, LOCATION) == ""  # no champion alias yet
    model["versionAliases"] = ["default", "champion"]
    assert champion_artifact_uri("vision", PROJECT, LOCATION) == "gs://b/m/1"
    assert api.calls("GET", r"/models/\d+%40champion$")  # the SDK escapes the @
