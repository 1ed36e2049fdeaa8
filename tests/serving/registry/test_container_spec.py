"""The containerSpec recorded on models: the project's server, started as Vertex AI expects."""

import pytest

from serving.__main__ import parser
from serving.contracts.errors import InputError
from serving.registry.container_spec import SERVING_PORT, container_spec
from serving.server.model_server import VertexContract


def test_the_projects_image_runs_the_server_on_the_routes_it_answers():
    spec = container_spec("europe-west4-docker.pkg.dev/p/mlops/pipeline:abc123")
    assert spec["command"] == ["python3", "-m", "serving"]
    args = parser().parse_args(spec["args"])
    assert args.host == "0.0.0.0" and args.poll_seconds == 0  # reachable; one fixed model
    defaults = VertexContract()
    assert spec["ports"] == [{"containerPort": SERVING_PORT}] and defaults.port == SERVING_PORT
    assert (spec["predictRoute"], spec["healthRoute"]) == (
        defaults.predict_route,
        defaults.health_route,
    )


def test_a_prebuilt_vertex_image_gets_only_its_uri():
    image = "us-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest"
    assert container_spec(image) == {"imageUri": image}


def test_a_request_log_is_an_argument_the_server_takes():
    spec = container_spec("europe-west4-docker.pkg.dev/p/mlops/pipeline:abc", "gs://b/log/vision")
    assert parser().parse_args(spec["args"]).request_log == "gs://b/log/vision"


@pytest.mark.parametrize(
    ("image", "log", "message"),
    [
        ("europe-west4-docker.pkg.dev/p/mlops/pipeline:abc", "/tmp/log", "pass gs://bucket"),
        ("us-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest", "gs://b/l", "prebuilt"),
    ],
)
def test_a_request_log_the_container_cannot_write_is_refused(image, log, message):
    with pytest.raises(InputError, match=message):
        container_spec(image, log)
