"""EndpointService: endpoints, deploy and undeploy (LROs), traffic split.

Deploying starts the model's serving container (model_servers.py) and
finishes when its health route answers; undeploying stops it. The traffic
split is checked as Vertex checks it: it adds up to 100 over deployed
models, with "0" meaning the model being deployed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import grpc
from google.cloud import aiplatform_v1 as v1
from google.longrunning import operations_pb2

from pipelines.emulator.rpc.rpc import ApiError, Rpc, service_rpcs
from pipelines.emulator.vertex import names
from pipelines.emulator.vertex.listing import matching
from pipelines.emulator.vertex.model_servers import ModelServer, ServerFailed, start_model_server
from pipelines.emulator.vertex.models import ModelService
from pipelines.emulator.vertex.operations import Operations
from pipelines.emulator.vertex.state import EmulatorState, now
from pipelines.emulator.vertex.validation import check_display_name, check_traffic_split, invalid

SERVICE = "google.cloud.aiplatform.v1.EndpointService"
_GAPIC = "google.cloud.aiplatform_v1.services.endpoint_service"
NEW_MODEL_KEY = "0"


class EndpointService:
    def __init__(
        self,
        state: EmulatorState,
        operations: Operations,
        models: ModelService,
        environment: Callable[[], Mapping[str, str]],
        say: Callable[[str], None],
    ):
        self._state, self._operations, self._models = state, operations, models
        self._environment, self._say = environment, say
        self.servers: dict[str, ModelServer] = {}  # deployed model id -> its server
        self._busy: set[str] = set()  # endpoints with a deploy or undeploy in progress
        self._closed = False

    def rpcs(self) -> list[Rpc]:
        lro = operations_pb2.Operation
        return service_rpcs(
            SERVICE,
            _GAPIC,
            [
                ("CreateEndpoint", v1.CreateEndpointRequest, lro, self.create),
                ("GetEndpoint", v1.GetEndpointRequest, v1.Endpoint, self.get),
                ("ListEndpoints", v1.ListEndpointsRequest, v1.ListEndpointsResponse, self.list),
                ("DeleteEndpoint", v1.DeleteEndpointRequest, lro, self.delete),
                ("DeployModel", v1.DeployModelRequest, lro, self.deploy),
                ("UndeployModel", v1.UndeployModelRequest, lro, self.undeploy),
            ],
        )

    def create(self, request: v1.CreateEndpointRequest):
        parent = names.check_parent(request.parent, self._state.parent)
        endpoint = v1.Endpoint(request.endpoint)
        check_display_name(endpoint.display_name, "Endpoint")
        endpoint.name = f"{parent}/endpoints/{request.endpoint_id or self._state.new_id()}"
        endpoint.create_time = endpoint.update_time = now()
        self._state.add(endpoint.name, endpoint)
        return self._operations.run(endpoint.name, lambda: v1.Endpoint(endpoint))

    def get(self, request: v1.GetEndpointRequest) -> v1.Endpoint:
        name = names.check_name(request.name, "endpoints", self._state.parent)
        with self._state.lock:
            return v1.Endpoint(self._state.get(name, "Endpoint"))

    def list(self, request: v1.ListEndpointsRequest) -> v1.ListEndpointsResponse:
        parent = names.check_parent(request.parent, self._state.parent)
        with self._state.lock:
            endpoints = [v1.Endpoint(e) for e in self._state.children(parent, "endpoints")]
        return v1.ListEndpointsResponse(
            endpoints=matching(endpoints, request.filter, request.order_by)
        )

    def delete(self, request: v1.DeleteEndpointRequest):
        name = names.check_name(request.name, "endpoints", self._state.parent)
        with self._state.lock:
            if self._state.get(name, "Endpoint").deployed_models or name in self._busy:
                raise ApiError(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"Endpoint {name} has deployed models: undeploy them first.",
                )
            self._state.delete(name, "Endpoint")
        return self._operations.run(name, lambda: None)

    def deploy(self, request: v1.DeployModelRequest):
        name = names.check_name(request.endpoint, "endpoints", self._state.parent)
        wanted = request.deployed_model
        with self._state.lock:
            endpoint = self._state.get(name, "Endpoint")
            model = v1.Model(self._models.resolve(wanted.model))
            existing = {m.id for m in endpoint.deployed_models}
            split = dict(request.traffic_split) or (
                {NEW_MODEL_KEY: 100} if not existing else dict(endpoint.traffic_split)
            )
            check_traffic_split(split, existing | {NEW_MODEL_KEY})
            _check_resources(wanted)
            self._claim(name)
        deployed_id = self._state.new_id()
        deployed = v1.DeployedModel(wanted)
        deployed.id = deployed_id
        deployed.model = model.name
        deployed.model_version_id = model.version_id
        deployed.display_name = wanted.display_name or model.display_name

        def work() -> v1.DeployModelResponse:
            self._say(f"Deploying {model.name}@{model.version_id} to {name} as {deployed_id}")
            try:
                server = start_model_server(model, name, deployed_id, self._environment())
            except BaseException as failure:
                self._release(name)
                if isinstance(failure, ServerFailed):
                    raise ApiError(grpc.StatusCode.FAILED_PRECONDITION, str(failure)) from None
                raise
            with self._state.lock:
                self._release(name)
                if self._closed:
                    server.stop()
                    raise ApiError(grpc.StatusCode.UNAVAILABLE, "The emulator is stopping.")
                self.servers[deployed_id] = server
                deployed.create_time = now()
                current = self._state.get(name, "Endpoint")
                current.deployed_models = [*current.deployed_models, deployed]
                current.traffic_split = {
                    (deployed_id if k == NEW_MODEL_KEY else k): v for k, v in split.items()
                }
                current.update_time = now()
                version = self._models.resolve(f"{model.name}@{model.version_id}")
                version.deployed_models = [
                    *version.deployed_models,
                    v1.DeployedModelRef(endpoint=name, deployed_model_id=deployed_id),
                ]
            self._say(f"Deployed {deployed_id}: {server.url}{server.predict_route}")
            return v1.DeployModelResponse(deployed_model=deployed)

        return self._operations.run(name, work, background=True)

    def undeploy(self, request: v1.UndeployModelRequest):
        name = names.check_name(request.endpoint, "endpoints", self._state.parent)
        gone = request.deployed_model_id
        with self._state.lock:
            endpoint = self._state.get(name, "Endpoint")
            remaining = {m.id for m in endpoint.deployed_models} - {gone}
            if gone not in {m.id for m in endpoint.deployed_models}:
                raise ApiError(
                    grpc.StatusCode.NOT_FOUND, f"DeployedModel {gone} is not found in {name}."
                )
            split = dict(request.traffic_split)
            if not split:
                split = {k: v for k, v in endpoint.traffic_split.items() if k != gone}
                if endpoint.traffic_split.get(gone) and remaining:
                    raise invalid(
                        f"DeployedModel {gone} receives traffic: give a traffic_split for the "
                        "models that stay deployed."
                    )
            check_traffic_split(split, remaining)
            self._claim(name)
            model_name = next(
                f"{m.model}@{m.model_version_id}" for m in endpoint.deployed_models if m.id == gone
            )

        def work() -> v1.UndeployModelResponse:
            with self._state.lock:
                server = self.servers.pop(gone, None)
                current = self._state.get(name, "Endpoint")
                current.deployed_models = [m for m in current.deployed_models if m.id != gone]
                current.traffic_split = split
                current.update_time = now()
                version = self._models.resolve(model_name)
                version.deployed_models = [
                    r for r in version.deployed_models if r.deployed_model_id != gone
                ]
                self._release(name)
            if server:
                server.stop()
            self._say(f"Undeployed {gone} from {name}")
            return v1.UndeployModelResponse()

        return self._operations.run(name, work, background=True)

    def stop_all(self) -> None:
        """Stop every serving container; a deploy finishing later stops its own."""
        with self._state.lock:
            self._closed = True
            servers = list(self.servers.values())
            self.servers.clear()
        for server in servers:
            server.stop()

    def _claim(self, name: str) -> None:
        """Vertex runs one deploy or undeploy at a time per endpoint."""
        if name in self._busy:
            raise ApiError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"Endpoint {name} has a deploy or undeploy in progress: retry when it is done.",
            )
        self._busy.add(name)

    def _release(self, name: str) -> None:
        with self._state.lock:
            self._busy.discard(name)


def _check_resources(deployed: v1.DeployedModel) -> None:
    dedicated = deployed.dedicated_resources
    if "dedicated_resources" in deployed:
        if not dedicated.machine_spec.machine_type:
            raise invalid(
                "deployed_model.dedicated_resources.machine_spec.machine_type is required."
            )
        if dedicated.min_replica_count < 1:
            raise invalid("deployed_model.dedicated_resources.min_replica_count must be >= 1.")
        if (
            dedicated.max_replica_count
            and dedicated.max_replica_count < dedicated.min_replica_count
        ):
            raise invalid("max_replica_count must be >= min_replica_count.")
    elif "automatic_resources" not in deployed:
        raise invalid("deployed_model needs dedicated_resources or automatic_resources.")
