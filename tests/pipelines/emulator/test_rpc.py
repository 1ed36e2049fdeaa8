"""The transport layer serves one Rpc table over gRPC and REST to the real aiplatform client.

A tiny in-memory JobService stands in for the lead's Vertex services (it is the thing
under test's payload, not a mock of a client): the clients are the real
`google.cloud.aiplatform_v1.JobServiceClient` on both of its transports, and raw HTTP
calls check what a client library never sends (bad JSON, unknown fields and routes).
"""

from __future__ import annotations

import gzip
import http.client
import json
import threading
from collections.abc import Iterator

import grpc
import pytest
from google.api_core import exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import aiplatform_v1
from google.cloud.aiplatform_v1.services.job_service.transports import JobServiceGrpcTransport
from google.longrunning import operations_pb2
from google.protobuf import any_pb2, empty_pb2

from pipelines.emulator.rpc.grpc_server import running_grpc_server
from pipelines.emulator.rpc.rest_gateway import error_response, running_rest_gateway
from pipelines.emulator.rpc.rpc import (
    ApiError,
    Rpc,
    deserialize,
    from_json,
    gapic_http_rules,
    operations_rpc,
    serialize,
    to_json,
)
from pipelines.emulator.rpc.transcode import Router

JOB_SERVICE = "google.cloud.aiplatform.v1.JobService"
GAPIC_JOBS = "google.cloud.aiplatform_v1.services.job_service"
PARENT = "projects/p/locations/us-central1"
OPERATION = f"{PARENT}/customJobs/1/operations/7"


class Jobs:
    """An in-memory JobService: create stores, get finds or raises NOT_FOUND."""

    def __init__(self) -> None:
        self.jobs: dict[str, aiplatform_v1.CustomJob] = {}
        self.lock = threading.Lock()

    def create(self, request: aiplatform_v1.CreateCustomJobRequest) -> aiplatform_v1.CustomJob:
        with self.lock:
            job = aiplatform_v1.CustomJob(request.custom_job)
            job.name = f"{request.parent}/customJobs/{len(self.jobs) + 1}"
            job.state = aiplatform_v1.JobState.JOB_STATE_QUEUED
            self.jobs[job.name] = job
            return job

    def get(self, request: aiplatform_v1.GetCustomJobRequest) -> aiplatform_v1.CustomJob:
        if request.name not in self.jobs:
            raise ApiError(grpc.StatusCode.NOT_FOUND, f"CustomJob {request.name} is not found.")
        return self.jobs[request.name]

    def list(
        self, request: aiplatform_v1.ListCustomJobsRequest
    ) -> aiplatform_v1.ListCustomJobsResponse:
        jobs = [job for name, job in self.jobs.items() if name.startswith(request.parent + "/")]
        return aiplatform_v1.ListCustomJobsResponse(custom_jobs=jobs[: request.page_size or None])

    def cancel(self, request: aiplatform_v1.CancelCustomJobRequest) -> None:
        raise RuntimeError("the cancel handler is broken")

    def rpcs(self) -> list[Rpc]:
        def rpc(method: str, request_type: type, response_type: type, handler) -> Rpc:
            rules = gapic_http_rules(GAPIC_JOBS, method)
            return Rpc(JOB_SERVICE, method, request_type, response_type, handler, rules)

        return [
            rpc(
                "CreateCustomJob",
                aiplatform_v1.CreateCustomJobRequest,
                aiplatform_v1.CustomJob,
                self.create,
            ),
            rpc(
                "GetCustomJob", aiplatform_v1.GetCustomJobRequest, aiplatform_v1.CustomJob, self.get
            ),
            rpc(
                "ListCustomJobs",
                aiplatform_v1.ListCustomJobsRequest,
                aiplatform_v1.ListCustomJobsResponse,
                self.list,
            ),
            rpc(
                "CancelCustomJob",
                aiplatform_v1.CancelCustomJobRequest,
                empty_pb2.Empty,
                self.cancel,
            ),
            operations_rpc("GetOperation", get_operation),
        ]


def get_operation(request: operations_pb2.GetOperationRequest) -> operations_pb2.Operation:
    response = any_pb2.Any()
    response.Pack(aiplatform_v1.CustomJob.pb(aiplatform_v1.CustomJob(display_name="done")))
    return operations_pb2.Operation(name=request.name, done=True, response=response)


def custom_job() -> aiplatform_v1.CustomJob:
    return aiplatform_v1.CustomJob(
        display_name="train",
        job_spec={
            "worker_pool_specs": [
                {
                    "machine_spec": {"machine_type": "n1-standard-4", "accelerator_count": 2},
                    "replica_count": 2,
                    "container_spec": {"image_uri": "gcr.io/p/trainer", "args": ["--epochs=1"]},
                }
            ]
        },
    )


@pytest.fixture(scope="module")
def served() -> Iterator[dict]:
    jobs = Jobs()
    seen: list[tuple[str, str, object]] = []

    def record(transport: str, rpc: Rpc, request: object) -> None:
        seen.append((transport, rpc.method, request))

    table = jobs.rpcs()
    with (
        running_grpc_server(table, on_request=record) as grpc_port,
        running_rest_gateway(table, on_request=record) as rest_port,
    ):
        yield {"jobs": jobs, "seen": seen, "grpc_port": grpc_port, "rest_port": rest_port}


@pytest.fixture(scope="module")
def grpc_client(served: dict) -> Iterator[aiplatform_v1.JobServiceClient]:
    channel = grpc.insecure_channel(f"127.0.0.1:{served['grpc_port']}")
    yield aiplatform_v1.JobServiceClient(
        client_options={"api_endpoint": f"127.0.0.1:{served['grpc_port']}"},
        transport=JobServiceGrpcTransport(channel=channel),
    )
    channel.close()


@pytest.fixture(scope="module")
def rest_client(served: dict) -> aiplatform_v1.JobServiceClient:
    return aiplatform_v1.JobServiceClient(
        transport="rest",
        client_options={"api_endpoint": f"http://127.0.0.1:{served['rest_port']}"},
        credentials=AnonymousCredentials(),
    )


def raw(served: dict, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    """One plain HTTP call to the gateway: (status, parsed JSON body)."""
    connection = http.client.HTTPConnection("127.0.0.1", served["rest_port"], timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.parametrize("client_name", ["grpc_client", "rest_client"])
def test_create_then_get_roundtrips_the_job(request, served: dict, client_name: str) -> None:
    client = request.getfixturevalue(client_name)
    created = client.create_custom_job(parent=PARENT, custom_job=custom_job())
    assert created.name.startswith(f"{PARENT}/customJobs/")
    assert created.state == aiplatform_v1.JobState.JOB_STATE_QUEUED
    fetched = client.get_custom_job(name=created.name)
    assert fetched == served["jobs"].jobs[created.name]
    pool = fetched.job_spec.worker_pool_specs[0]
    assert (pool.replica_count, pool.machine_spec.accelerator_count) == (2, 2)
    assert pool.container_spec.args == ["--epochs=1"]
    transport = "grpc" if client_name == "grpc_client" else "rest"
    create = next(r for t, m, r in served["seen"] if (t, m) == (transport, "CreateCustomJob"))
    assert isinstance(create, aiplatform_v1.CreateCustomJobRequest)
    assert create.parent == PARENT


@pytest.mark.parametrize("client_name", ["grpc_client", "rest_client"])
def test_a_missing_job_is_not_found_with_the_handlers_message(request, client_name: str) -> None:
    client = request.getfixturevalue(client_name)
    with pytest.raises(exceptions.NotFound, match=r"CustomJob .*/customJobs/404 is not found"):
        client.get_custom_job(name=f"{PARENT}/customJobs/404")


@pytest.mark.parametrize("client_name", ["grpc_client", "rest_client"])
def test_a_failing_handler_is_internal_not_a_hang(request, client_name: str) -> None:
    client = request.getfixturevalue(client_name)
    with pytest.raises(exceptions.InternalServerError, match="the cancel handler is broken"):
        client.cancel_custom_job(name=f"{PARENT}/customJobs/1", timeout=10)


@pytest.mark.parametrize("client_name", ["grpc_client", "rest_client"])
def test_get_operation_returns_the_done_operation(request, client_name: str) -> None:
    client = request.getfixturevalue(client_name)
    operation = client.get_operation({"name": OPERATION})
    assert operation.name == OPERATION and operation.done
    job = aiplatform_v1.CustomJob.pb()()
    assert operation.response.Unpack(job) and job.display_name == "done"


def test_the_rest_lro_poller_reads_the_operation(rest_client) -> None:
    """The path google.api_core's LRO polling takes over REST (operations_client)."""
    operation = rest_client._transport.operations_client.get_operation(OPERATION)
    assert operation.done and operation.name == OPERATION


def test_query_parameters_bind_in_either_name_style(served: dict, rest_client) -> None:
    rest_client.create_custom_job(parent=PARENT, custom_job=custom_job())
    listed = rest_client.list_custom_jobs(request={"parent": PARENT, "page_size": 1, "filter": "x"})
    assert len(listed.custom_jobs) == 1
    path = f"/v1/{PARENT}/customJobs?pageSize=1&read_mask=displayName,jobSpec&filter=a%3Db"
    status, body = raw(served, "GET", path)
    assert status == 200 and len(body["customJobs"]) == 1
    request = [r for t, m, r in served["seen"] if (t, m) == ("rest", "ListCustomJobs")][-1]
    assert (request.page_size, request.filter) == (1, "a=b")
    assert list(request.read_mask.paths) == ["display_name", "job_spec"]


def test_an_unknown_query_parameter_is_invalid_argument(served: dict) -> None:
    status, body = raw(served, "GET", f"/v1/{PARENT}/customJobs?pageSise=1")
    assert status == 400
    assert body["error"]["status"] == "INVALID_ARGUMENT" and "pageSise" in body["error"]["message"]


def test_a_path_value_is_percent_decoded(served: dict) -> None:
    status, body = raw(served, "GET", f"/v1/{PARENT}/customJobs/1%40champion")
    assert status == 404 and body["error"]["status"] == "NOT_FOUND"
    request = [r for t, m, r in served["seen"] if (t, m) == ("rest", "GetCustomJob")][-1]
    assert request.name == f"{PARENT}/customJobs/1@champion"


def test_a_body_with_an_unknown_field_is_400_in_googles_shape(served: dict) -> None:
    body = json.dumps({"displayName": "x", "jobSpec": {}, "replicaCont": 2}).encode()
    status, error = raw(served, "POST", f"/v1/{PARENT}/customJobs", body)
    assert status == 400
    assert set(error) == {"error"}
    assert error["error"]["code"] == 400 and error["error"]["status"] == "INVALID_ARGUMENT"
    assert "replicaCont" in error["error"]["message"]


def test_malformed_json_is_400_naming_the_problem(served: dict) -> None:
    status, error = raw(served, "POST", f"/v1/{PARENT}/customJobs", b'{"displayName": ')
    assert status == 400 and error["error"]["status"] == "INVALID_ARGUMENT"
    assert "Expecting value" in error["error"]["message"]
    status, error = raw(served, "POST", f"/v1/{PARENT}/customJobs/1:cancel", b"[1]")
    assert status == 400 and "must be a JSON object" in error["error"]["message"]


def test_an_unknown_route_is_404_naming_method_and_path(served: dict) -> None:
    status, error = raw(served, "DELETE", f"/v1/{PARENT}/customJobs/1")
    assert status == 404 and error["error"]["status"] == "NOT_FOUND"
    assert f"DELETE /v1/{PARENT}/customJobs/1" in error["error"]["message"]


def test_a_gzip_body_is_decoded(served: dict) -> None:
    body = gzip.compress(json.dumps({"displayName": "zipped", "jobSpec": {}}).encode())
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    status, job = raw(served, "POST", f"/v1/{PARENT}/customJobs", body, headers)
    assert status == 200 and job["displayName"] == "zipped" and job["state"] == "JOB_STATE_QUEUED"


def test_extra_routes_are_tried_first_and_fall_through() -> None:
    def bigquery(method, path, query, headers, body):
        if path.startswith("/bigquery/v2/"):
            return 200, {"Content-Type": "application/json"}, json.dumps({"path": path}).encode()
        return None

    with running_rest_gateway(Jobs().rpcs(), extra_routes=bigquery) as port:
        served = {"rest_port": port}
        assert raw(served, "GET", "/bigquery/v2/projects/p/datasets") == (
            200,
            {"path": "/bigquery/v2/projects/p/datasets"},
        )
        assert raw(served, "GET", f"/v1/{PARENT}/customJobs/9")[0] == 404


def test_message_helpers_take_both_kinds_of_message() -> None:
    job = custom_job()
    assert deserialize(aiplatform_v1.CustomJob, serialize(aiplatform_v1.CustomJob, job)) == job
    text = to_json(aiplatform_v1.CustomJob, job)
    assert '"displayName": "train"' in text and '"replicaCount": "2"' in text
    assert from_json(aiplatform_v1.CustomJob, text) == job
    operation = operations_pb2.Operation(name="op", done=True)
    assert deserialize(
        operations_pb2.Operation, serialize(operations_pb2.Operation, operation)
    ) == (operation)
    with pytest.raises(TypeError, match="expected a CustomJob"):
        serialize(aiplatform_v1.CustomJob, operation)


def test_gapic_rules_and_operations_bindings_come_from_the_installed_transport() -> None:
    assert gapic_http_rules(GAPIC_JOBS, "CreateCustomJob") == (
        {
            "method": "post",
            "uri": "/v1/{parent=projects/*/locations/*}/customJobs",
            "body": "custom_job",
        },
    )
    uris = {rule["uri"] for rule in operations_rpc("GetOperation", get_operation).http_rules}
    assert "/v1/{name=projects/*/locations/*/operations/*}" in uris
    assert "/v1/{name=projects/*/locations/*/customJobs/*/operations/*}" in uris
    with pytest.raises(ValueError, match="no REST binding"):
        gapic_http_rules(GAPIC_JOBS, "CreateCustomJobs")
    with pytest.raises(ValueError, match=r"not a google\.longrunning\.Operations method"):
        operations_rpc("GetOperations", get_operation)


def test_error_statuses_follow_google() -> None:
    assert error_response(grpc.StatusCode.FAILED_PRECONDITION, "m")[0] == 400
    assert error_response(grpc.StatusCode.ALREADY_EXISTS, "m")[0] == 409
    assert error_response(grpc.StatusCode.UNAVAILABLE, "m")[0] == 503
    status, _, body = error_response(grpc.StatusCode.PERMISSION_DENIED, "no")
    assert status == 403
    assert json.loads(body) == {
        "error": {"code": 403, "message": "no", "status": "PERMISSION_DENIED"}
    }


def test_a_verb_template_wins_over_a_wildcard_that_would_swallow_it() -> None:
    """GET models/1:listVersions is ListModelVersions, not GetModel of "1:listVersions"."""
    models = "google.cloud.aiplatform_v1.services.model_service"
    table = [
        Rpc("s", method, request_type, aiplatform_v1.Model, print, gapic_http_rules(models, method))
        for method, request_type in [
            ("GetModel", aiplatform_v1.GetModelRequest),
            ("ListModelVersions", aiplatform_v1.ListModelVersionsRequest),
        ]
    ]
    router = Router(table)
    route, values = router.match("GET", f"/v1/{PARENT}/models/1%40champion:listVersions")
    assert route.rpc.method == "ListModelVersions"
    assert values == {"name": f"{PARENT}/models/1@champion"}
    route, values = router.match("GET", f"/v1/{PARENT}/models/1")
    assert route.rpc.method == "GetModel"
    assert router.match("POST", f"/v1/{PARENT}/models/1") is None


def test_a_rule_naming_a_field_the_request_lacks_is_refused() -> None:
    rules = ({"method": "get", "uri": "/v1/{nam=projects/*}"},)
    rpc = Rpc("s", "GetModel", aiplatform_v1.GetModelRequest, aiplatform_v1.Model, print, rules)
    with pytest.raises(ValueError, match="names 'nam'"):
        Router([rpc])


def test_enum_encoding_int_is_honoured_as_the_gapic_rest_client_asks(served: dict) -> None:
    job = served["jobs"].create(aiplatform_v1.CreateCustomJobRequest(parent=PARENT))
    _, as_names = raw(served, "GET", f"/v1/{job.name}")
    _, as_ints = raw(served, "GET", f"/v1/{job.name}?%24alt=json%3Benum-encoding%3Dint")
    assert (as_names["state"], as_ints["state"]) == ("JOB_STATE_QUEUED", 1)


def test_one_keep_alive_connection_serves_several_calls_and_chunked_bodies(served: dict) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", served["rest_port"], timeout=10)
    try:
        statuses = []
        for name in ("one", "two"):
            chunks = iter([b'{"displayName": ', json.dumps(name).encode(), b"}"])
            connection.request("POST", f"/v1/{PARENT}/customJobs", body=chunks)  # chunked
            response = connection.getresponse()
            statuses.append((response.status, json.loads(response.read())["displayName"]))
            assert response.getheader("Content-Length")
        connection.request("GET", f"/v1/{PARENT}/customJobs/none")
        statuses.append((connection.getresponse().status, None))
    finally:
        connection.close()
    assert statuses == [(200, "one"), (200, "two"), (404, None)]
