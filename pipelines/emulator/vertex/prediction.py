"""PredictionService.Predict: the request goes to one deployed model's container, by traffic split.

As on Vertex, the container receives `{"instances": [...], "parameters": ...}`
on its predict route and answers `{"predictions": [...]}`; an error status
from the container comes back as the call's error with the container's text.
"""

from __future__ import annotations

import json
import random
import urllib.error
import urllib.request

import grpc
from google.cloud import aiplatform_v1 as v1
from google.protobuf import json_format

from pipelines.emulator.rpc.rpc import ApiError, Rpc, gapic_http_rules
from pipelines.emulator.vertex import names
from pipelines.emulator.vertex.endpoints import EndpointService
from pipelines.emulator.vertex.state import EmulatorState

SERVICE = "google.cloud.aiplatform.v1.PredictionService"
_GAPIC = "google.cloud.aiplatform_v1.services.prediction_service"
_TIMEOUT_S = 60.0
_STATUS_CODES = {400: grpc.StatusCode.INVALID_ARGUMENT, 404: grpc.StatusCode.NOT_FOUND}


class PredictionService:
    def __init__(self, state: EmulatorState, endpoints: EndpointService, seed: int | None = None):
        self._state, self._endpoints = state, endpoints
        self._random = random.Random(seed)

    def rpcs(self) -> list[Rpc]:
        return [
            Rpc(
                SERVICE, "Predict", v1.PredictRequest, v1.PredictResponse, self.predict,
                gapic_http_rules(_GAPIC, "Predict"),
            )
        ]  # fmt: skip

    def predict(self, request: v1.PredictRequest) -> v1.PredictResponse:
        name = names.check_name(request.endpoint, "endpoints", self._state.parent)
        body = json_format.MessageToDict(v1.PredictRequest.pb(request))
        if not body.get("instances"):
            raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, "instances must not be empty.")
        with self._state.lock:
            endpoint = self._state.get(name, "Endpoint")
            deployed = self._choose(endpoint)
        server = self._endpoints.servers.get(deployed.id)
        if server is None:
            raise ApiError(grpc.StatusCode.UNAVAILABLE, f"{deployed.id} is not serving yet.")
        payload = {"instances": body["instances"]}
        if "parameters" in body:
            payload["parameters"] = body["parameters"]
        answer = _post(server.url + server.predict_route, payload)
        if not isinstance(answer, dict) or "predictions" not in answer:
            raise ApiError(
                grpc.StatusCode.INTERNAL,
                f"The container of {deployed.id} answered without predictions: {str(answer)[:300]}",
            )
        response = v1.PredictResponse.pb(v1.PredictResponse())
        json_format.ParseDict({"predictions": answer["predictions"]}, response)
        result = v1.PredictResponse.wrap(response)
        result.deployed_model_id = deployed.id
        result.model = deployed.model
        result.model_version_id = deployed.model_version_id
        result.model_display_name = deployed.display_name
        return result

    def _choose(self, endpoint: v1.Endpoint) -> v1.DeployedModel:
        split = {k: v for k, v in endpoint.traffic_split.items() if v > 0}
        if not split:
            raise ApiError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"Endpoint {endpoint.name} has no deployed model that receives traffic.",
            )
        [chosen] = self._random.choices(list(split), weights=list(split.values()))
        return next(m for m in endpoint.deployed_models if m.id == chosen)


def _post(url: str, payload: dict) -> object:
    request = urllib.request.Request(
        url, json.dumps(payload).encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        text = error.read().decode(errors="replace")[:1000]
        code = _STATUS_CODES.get(error.code, grpc.StatusCode.INTERNAL)
        raise ApiError(code, f"The model's container answered {error.code}: {text}") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise ApiError(
            grpc.StatusCode.UNAVAILABLE, f"The model's container failed: {error}"
        ) from None
