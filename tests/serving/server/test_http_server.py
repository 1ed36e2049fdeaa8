"""The HTTP server on 127.0.0.1: both request formats, readiness, splits, hot swap, bad input.

Every test talks to a real ThreadingHTTPServer over a socket, serving real
SavedModels (tests/serving/conftest.py), with the standard library's HTTP
client.
"""

import http.client
import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import pytest

from serving.server.deployments import Batching
from serving.server.loaded_model import LoadedModel
from serving.server.model_server import VertexContract
from tests.serving.conftest import call, running_server, scaler_server, wait_ready

ROW = [1.0, 2.0, 3.0]  # version v answers forecast [6 v]


def test_the_vertex_ai_contract_is_read_from_the_environment():
    contract = VertexContract.from_environ(
        {
            "AIP_HTTP_PORT": "7080",
            "AIP_PREDICT_ROUTE": "/v1/endpoints/1/deployedModels/2:predict",
            "AIP_HEALTH_ROUTE": "/v1/endpoints/1/deployedModels/2",
            "AIP_DEPLOYED_MODEL_ID": "2",
        }
    )
    assert contract == VertexContract(
        7080, "/v1/endpoints/1/deployedModels/2:predict", "/v1/endpoints/1/deployedModels/2", "2"
    )
    assert VertexContract.from_environ({}) == VertexContract(8080, "/predict", "/health", "")
    with pytest.raises(ValueError, match="AIP_HTTP_PORT='http' is not a port number"):
        VertexContract.from_environ({"AIP_HTTP_PORT": "http"})


def test_vertex_routes_answer_with_predictions_and_the_deployed_model_id(registry):
    contract = VertexContract(0, "/v1/endpoints/e/deployedModels/d:predict", "/ping", "d")
    server = scaler_server(registry, contract=contract)
    with running_server(server) as base:
        wait_ready(base, health="/ping")
        status, body = call(base, "/ping")
        assert (status, body["models"]) == (200, {"scaler": [2]})
        status, body = call(
            base, "/v1/endpoints/e/deployedModels/d:predict", {"instances": [ROW], "parameters": {}}
        )
    assert status == 200
    assert body == {"predictions": [{"forecast": [12.0], "total": 12.0}], "deployedModelId": "d"}


def test_tf_serving_routes_status_metadata_rows_and_columns(registry):
    server = scaler_server(registry, traffic=(("champion", 50), ("1", 50)))
    with running_server(server) as base:
        wait_ready(base)
        assert call(base, "/v1/models/scaler/versions/1:predict", {"instances": [ROW]}) == (
            200,
            {"predictions": [{"forecast": [6.0], "total": 6.0}]},
        )
        columnar = {"inputs": {"window": [ROW, ROW]}}
        assert call(base, "/v1/models/scaler/labels/champion:predict", columnar) == (
            200,
            {"outputs": {"forecast": [[12.0], [12.0]], "total": [12.0, 12.0]}},
        )
        status, body = call(base, "/v1/models/scaler")
        assert status == 200
        assert [(s["version"], s["state"]) for s in body["model_version_status"]] == [
            ("1", "AVAILABLE"),
            ("2", "AVAILABLE"),
        ]
        status, body = call(base, "/v1/models/scaler/versions/2/metadata")
        signature = body["metadata"]["signature_def"]["signature_def"]["serving_default"]
        assert signature["inputs"]["window"]["dtype"] == "DT_FLOAT"
        assert signature["inputs"]["window"]["tensor_shape"]["dim"] == [
            {"size": "-1"},
            {"size": "3"},
        ]


def test_requests_are_refused_with_503_until_the_model_is_loaded_and_warm(registry):
    release = threading.Event()

    def slow_load(name, version, path):
        assert release.wait(30)
        return LoadedModel(name, version, path)

    server = scaler_server(registry, load=slow_load)
    with running_server(server) as base:
        assert call(base, "/health") == (503, {"error": "Not ready: loading scaler."})
        status, body = call(base, "/predict", {"instances": [ROW]})
        assert status == 503 and "still loading" in body["error"]
        status, body = call(base, "/v1/models/scaler")
        assert body["model_version_status"][0]["state"] == "LOADING"
        release.set()
        wait_ready(base)
        assert call(base, "/predict", {"instances": [ROW]})[0] == 200


def test_the_traffic_split_sends_each_version_its_share(registry):
    server = scaler_server(registry, traffic=(("champion", 80), ("1", 20)), seed=3)
    with running_server(server) as base:
        wait_ready(base)
        ids = [
            call(base, "/predict", {"instances": [ROW]})[1]["deployedModelId"] for _ in range(300)
        ]
    assert set(ids) == {"scaler-1", "scaler-2"}
    assert 30 <= ids.count("scaler-1") <= 90  # 20% of 300 = 60; binomial sd 6.9


def test_a_new_champion_is_swapped_in_under_load_without_a_failed_request(registry, scaler_exports):
    server = scaler_server(registry, batching=Batching(16, 0.002, max_queue_s=10))
    stop, answers, failures = threading.Event(), [], []

    def client(base):
        while not stop.is_set():
            status, body = call(base, "/predict", {"instances": [ROW]})
            if status != 200:
                failures.append((status, body))
                continue
            answers.append((body["deployedModelId"], body["predictions"][0]["total"]))

    with running_server(server, poll_s=0.05) as base:
        wait_ready(base)
        threads = [threading.Thread(target=client, args=(base,)) for _ in range(6)]
        for thread in threads:
            thread.start()
        try:
            _wait_until(lambda: len(answers) >= 50)
            registry.register("scaler", scaler_exports[2])  # version 3 becomes champion
            _wait_until(lambda: answers[-1][0] == "scaler-3" or failures)
            seen = len(answers)
            _wait_until(lambda: len(answers) >= seen + 50 or failures)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
    assert failures == []
    assert set(answers) == {("scaler-2", 12.0), ("scaler-3", 18.0)}  # each answer from its version
    assert answers[-1][0] == "scaler-3"


def _wait_until(condition, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout_s} s"
        time.sleep(0.005)


def _raw(base: str, method: str, path: str, body: bytes | None, headers: dict) -> tuple[int, dict]:
    url = urlparse(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        connection.putrequest(method, path)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_protocol_errors_get_json_errors(registry):
    server = scaler_server(registry, max_body_bytes=1000)
    with running_server(server) as base:
        wait_ready(base)
        status, body = _raw(base, "POST", "/predict", b"x" * 2000, {"Content-Length": "2000"})
        assert status == 413 and "limit is 1000 (--max-body-bytes)" in body["error"]
        status, body = _raw(base, "POST", "/predict", None, {})
        assert status == 411 and "Content-Length" in body["error"]
        for length, refusal in [  # int() fails on each; isdigit() passes each
            ("9" * 5000, (400, "Invalid HTTP request: Content-Length overflow")),  # the parser
            ("²", (400, "Invalid HTTP request: Invalid character in Content-Length")),
            ("¹²", (400, "Invalid HTTP request: Invalid character in Content-Length")),
        ]:
            status, body = _raw(base, "POST", "/predict", b"", {"Content-Length": length})
            assert (status, body["error"][: len(refusal[1])]) == refusal, body
        for version in ("9" * 5000, "02", "0"):  # no version as written: 404, never a 500
            assert call(base, f"/v1/models/scaler/versions/{version}")[0] == 404
        assert call(base, "/v2/whatever")[0] == 404
        assert call(base, "/v1/models/scaler:predict")[0] == 405  # GET on a POST route
        assert call(base, "/v1/models/scaler/metadata", {"instances": [ROW]})[0] == 405
        status, body = call(
            base, "/v1/models/scaler/labels/challenger:predict", {"instances": [ROW]}
        )
        assert status == 404 and "no label 'challenger'" in body["error"]
        assert call(base, "/health")[0] == 200  # still up


def test_a_refused_request_leaves_its_keep_alive_connection_usable(registry):
    server = scaler_server(registry)
    with running_server(server) as base:
        wait_ready(base)
        url = urlparse(base)
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        try:
            for path, body, status in [
                ("/v1/models/nope:predict", b'{"instances": [[1, 2, 3]]}', 404),
                ("/predict", b"{broken", 400),
                ("/predict", b'{"instances": [[1, null, 3]]}', 400),
                ("/predict", json.dumps({"instances": [ROW]}).encode(), 200),
            ]:
                connection.request("POST", path, body)
                response = connection.getresponse()
                answer = json.loads(response.read())
                assert response.status == status, answer
        finally:
            connection.close()
    assert answer["predictions"] == [{"forecast": [12.0], "total": 12.0}]


def test_the_vertex_route_asks_which_model_when_several_are_served(registry, scaler_exports):
    from serving.server.deployments import Deployment
    from serving.server.model_server import ModelServer

    registry.register("other", scaler_exports[0])
    deployments = {name: Deployment(registry, name) for name in ("scaler", "other")}
    with running_server(ModelServer(deployments)) as base:
        wait_ready(base)
        status, body = call(base, "/predict", {"instances": [ROW]})
        assert status == 400 and "start it with --model NAME" in body["error"]
        assert call(base, "/v1/models/other:predict", {"instances": [ROW]})[0] == 200


BAD = [
    (b"{not json", 400, "not valid JSON"),
    (json.dumps({"instance": [ROW]}).encode(), 400, "has no 'instances'"),
    (json.dumps({"instances": [[1, "b", 3]]}).encode(), 400, "expected numbers"),
    (json.dumps({"instances": [[1, 2]]}).encode(), 400, "does not fit window"),
    (json.dumps({"instances": []}).encode(), 400, "No instances"),
    (json.dumps([ROW]).encode(), 400, "must be a JSON object"),
    (json.dumps({"instances": [{"b64": "AAAA"}]}).encode(), 400, "expected numbers"),
    # parses, then fails inside the model: in a shared batch, only this request fails
    (json.dumps({"instances": [[1, None, 3]]}).encode(), 400, "could not use the instances"),
]


def test_a_mixed_stream_of_good_and_bad_requests_answers_every_good_one(registry):
    """Eight clients, 600 requests, a third of them bad, batched together where they meet."""
    rng = random.Random(11)
    plan = []
    for i in range(600):
        if rng.random() < 1 / 3:
            plan.append(("bad", *rng.choice(BAD)))
        else:
            rows = [[float(i), float(j), 1.0] for j in range(rng.randint(1, 4))]
            plan.append(("good", json.dumps({"instances": rows}).encode(), 200, rows))
    server = scaler_server(registry, batching=Batching(16, 0.003, max_queue_s=10))
    with running_server(server) as base:
        wait_ready(base)

        def send(item):
            return call(base, "/predict", raw=item[1])

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(send, plan))
        assert call(base, "/health")[0] == 200
    for (kind, _, want_status, detail), (status, body) in zip(plan, results, strict=True):
        assert status == want_status, body
        if kind == "good":
            assert [p["total"] for p in body["predictions"]] == [2 * sum(r) for r in detail]
        else:
            assert detail in body["error"]
