"""TF Serving's gRPC API: `tensorflow.serving.PredictionService`, so its clients work unchanged.

    Predict           one input tensor, named as the model's input -> the outputs as tensors
    GetModelMetadata  metadata_field ["signature_def"] -> a SignatureDefMap, packed in Any

ModelSpec chooses the version as the REST routes do: `version` or
`version_label`, else the traffic split; `signature_name` is "" or
"serving_default". A request takes the REST path's way through the server:
the same admission (the bound in flight, the drain), version choice,
request limits, batcher (with the client's gRPC deadline) and checks of
dtype and per-instance shape, so both APIs give the same answers and
refusals. A refusal's RequestError status becomes the gRPC
code (STATUS_CODES); any other failure is INTERNAL, logged with its
traceback, and never ends the server's thread.
"""

from __future__ import annotations

import logging
import math
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.framework import tensor_pb2, types_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    model_pb2,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from serving.contracts.errors import InputError
from serving.server.deployments import ServedVersion
from serving.server.loaded_model import SIGNATURE, InputSpec
from serving.server.model_server import ModelServer
from serving.server.request_format import RequestError
from serving.server.request_limits import check_batch, check_response_size

log = logging.getLogger(__name__)

STATUS_CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    413: grpc.StatusCode.INVALID_ARGUMENT,
    404: grpc.StatusCode.NOT_FOUND,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}
SIGNATURE_DEF = "signature_def"
NO_DEADLINE_S = 10**9  # more remaining than this (30 years): the client set no deadline


def start_grpc_server(
    server: ModelServer,
    host: str,
    port: int,
    *,
    reuse_port: bool = False,
    max_workers: int = 16,
    max_message_bytes: int | None = None,
) -> tuple[grpc.Server, int]:
    """Serve `server` over plaintext gRPC on host:port (0: a free port); (grpc server, port).

    Without `reuse_port` a port another process holds is an InputError, not a second
    listener sharing it. `max_message_bytes` (default: the server's --max-body-bytes)
    bounds a request, as the body limit bounds a REST request.
    """
    limit = server.max_body_bytes if max_message_bytes is None else max_message_bytes
    grpc_server = grpc.server(
        ThreadPoolExecutor(max_workers, thread_name_prefix="grpc"),
        options=[
            ("grpc.so_reuseport", 1 if reuse_port else 0),
            ("grpc.max_receive_message_length", limit),
        ],
    )
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        PredictionService(server, limit), grpc_server
    )
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = grpc_server.add_insecure_port(address)
    except RuntimeError:  # grpc's message only says "Failed to bind"
        bound = 0
    if not bound:
        raise InputError(
            f"cannot listen for gRPC on {host}:{port}: {_bind_problem(host, port)}: "
            "pass another --grpc-port, or 0 to turn gRPC off."
        )
    grpc_server.start()
    log.info("gRPC PredictionService on %s", address.rsplit(":", 1)[0] + f":{bound}")
    return grpc_server, bound


def signature_def_map(metadata: dict) -> get_model_metadata_pb2.SignatureDefMap:
    """LoadedModel.metadata_response()'s signature (TF Serving's REST JSON) as the proto."""
    return json_format.ParseDict(
        metadata["metadata"][SIGNATURE_DEF], get_model_metadata_pb2.SignatureDefMap()
    )


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Predict and GetModelMetadata for a ModelServer; the other methods are UNIMPLEMENTED."""

    def __init__(self, server: ModelServer, max_message_bytes: int) -> None:
        self.server, self.max_message_bytes = server, max_message_bytes

    def Predict(self, request, context):
        return self._answer(context, "Predict", lambda: self._predict(request, context))

    def GetModelMetadata(self, request, context):
        return self._answer(context, "GetModelMetadata", lambda: self._metadata(request))

    def _predict(self, request, context) -> predict_pb2.PredictResponse:
        """Admitted as a REST predict is: refused while draining or past the bound in flight."""
        name = request.model_spec.name
        self.server.admission.enter(name if name in self.server.deployments else "")
        try:
            return self._admitted_predict(request, context)
        finally:
            self.server.admission.leave()

    def _admitted_predict(self, request, context) -> predict_pb2.PredictResponse:
        served = self._version(request.model_spec)
        model = served.model
        batch = self._batch(request.inputs, model.input)
        check_batch(self.server.limits, model, batch)
        unknown = sorted(set(request.output_filter) - set(model.outputs))
        if unknown:
            raise RequestError(
                400,
                f"output_filter names {unknown}, which {model.label} does not have; "
                f"its outputs: {model.outputs}.",
            )
        outputs = _model_outputs(served, batch, client_deadline(context))
        response = predict_pb2.PredictResponse(model_spec=_spec(served))
        for name in request.output_filter or outputs:
            response.outputs[name].CopyFrom(tf.make_tensor_proto(outputs[name]))
        check_response_size(self.server.limits, response.ByteSize(), len(batch))
        return response

    def _metadata(self, request) -> get_model_metadata_pb2.GetModelMetadataResponse:
        fields = list(request.metadata_field)
        if fields != [SIGNATURE_DEF]:
            raise RequestError(
                400,
                f"metadata_field is {fields}; this server answers metadata_field "
                f"[{SIGNATURE_DEF!r}].",
            )
        served = self._version(request.model_spec)
        response = get_model_metadata_pb2.GetModelMetadataResponse(model_spec=_spec(served))
        signatures = signature_def_map(served.model.metadata_response())
        response.metadata[SIGNATURE_DEF].Pack(signatures)
        return response

    def _version(self, spec: model_pb2.ModelSpec) -> ServedVersion:
        if not spec.name:
            raise RequestError(
                400,
                f"model_spec.name is empty: name the model ({', '.join(self.server.deployments)}).",
            )
        if spec.signature_name not in ("", SIGNATURE):
            raise RequestError(
                400,
                f"Model {spec.name!r} has no signature {spec.signature_name!r}: "
                f"send {SIGNATURE!r} or leave model_spec.signature_name empty.",
            )
        version = str(spec.version.value) if spec.HasField("version") else ""
        return self.server.version_for(spec.name, version, spec.version_label)

    def _batch(self, inputs, spec: InputSpec) -> np.ndarray:
        """The request's single input tensor as an array, checked against `spec`."""
        if list(inputs) != [spec.name]:
            raise RequestError(
                400,
                f"The request's inputs are {sorted(inputs)}; this model takes one input, "
                f"{spec.describe()}.",
            )
        proto: tensor_pb2.TensorProto = inputs[spec.name]
        if proto.dtype != spec.dtype.as_datatype_enum:
            raise RequestError(
                400,
                f"input {spec.name} is {_dtype_name(proto.dtype)}; this model takes "
                f"{_dtype_name(spec.dtype.as_datatype_enum)} ({spec.describe()}).",
            )
        dims = [d.size for d in proto.tensor_shape.dim]
        expected = list(spec.shape[1:])
        if (
            proto.tensor_shape.unknown_rank
            or len(dims) != len(spec.shape)
            or any(
                want is not None and got != want
                for got, want in zip(dims[1:], expected, strict=True)
            )
        ):
            raise RequestError(
                400,
                f"input {spec.name} has shape {_dims(dims)}, so instances of "
                f"{_dims(dims[1:])}; this model takes {_dims(expected)} per instance "
                f"({spec.describe()}).",
            )
        if not dims[0]:
            raise RequestError(
                400, f"No instances to predict: send at least one ({spec.describe()})."
            )
        # A tensor may declare more values than it carries (the last one repeats): bound it.
        size = math.prod(dims) * (1 if spec.is_string else spec.dtype.size)
        if size > self.max_message_bytes:
            raise RequestError(
                413,
                f"input {spec.name} declares shape {_dims(dims)}, {size} bytes; the limit is "
                f"{self.max_message_bytes} (--max-body-bytes): send fewer instances per request.",
            )
        try:
            return tf.make_ndarray(proto)
        except (TypeError, ValueError) as exc:
            raise RequestError(
                400, f"input {spec.name} is not a valid tensor of shape {_dims(dims)}: {exc}"
            ) from None

    def _answer(self, context: grpc.ServicerContext, method: str, work):
        try:
            return work()
        except RequestError as exc:
            code, message = STATUS_CODES.get(exc.status, grpc.StatusCode.INTERNAL), str(exc)
        except Exception as exc:  # a bug must not take the server down: log it, answer INTERNAL
            log.exception("Unexpected error in gRPC %s", method)
            first = (str(exc).strip().splitlines() or [""])[0][:300]
            code, message = (
                grpc.StatusCode.INTERNAL,
                f"Internal error: {type(exc).__name__}: {first}",
            )
        context.abort(code, message)


def client_deadline(context: grpc.ServicerContext) -> float | None:
    """The client's deadline as a time.monotonic() value; None when it set none.

    Without one, grpc reports some 9e18 seconds remaining (its "infinite future").
    """
    remaining = context.time_remaining()
    if remaining is None or remaining > NO_DEADLINE_S:
        return None
    return time.monotonic() + remaining


def _model_outputs(
    served: ServedVersion, batch: np.ndarray, deadline: float | None
) -> dict[str, np.ndarray]:
    """The model's outputs through the version's batcher; the model's refusal as a 400."""
    try:
        return served.batcher.predict(batch, deadline)
    except tf.errors.InvalidArgumentError as exc:
        raise served.refusal(exc) from None


def _spec(served: ServedVersion) -> model_pb2.ModelSpec:
    spec = model_pb2.ModelSpec(name=served.model.model_name, signature_name=SIGNATURE)
    spec.version.value = served.model.version
    return spec


def _dtype_name(dtype: int) -> str:
    """DT_FLOAT for 1; the number itself when it names no DataType."""
    return types_pb2.DataType.Name(dtype) if dtype in types_pb2.DataType.values() else str(dtype)


def _dims(dims: list) -> str:
    return "[" + ", ".join("any" if d is None else str(d) for d in dims) + "]"


def _bind_problem(host: str, port: int) -> str:
    """Why host:port cannot be bound, in the operating system's words."""
    try:
        with socket.create_server((host, port)):
            return "gRPC could not bind it"
    except OSError as exc:
        return exc.strerror or str(exc)
