"""One table of emulated API methods, served over gRPC and REST alike.

An `Rpc` names a method as gRPC does (service and method), the message types its
clients send and expect, the handler that answers it, and the HTTP bindings its REST
clients use. The bindings are read from the installed GAPIC REST transports, so the
URIs are exactly the ones the real clients build. Messages may be proto-plus classes
(the aiplatform GAPIC types) or raw protobuf classes (google.longrunning); the helpers
below hide the difference from both servers.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import grpc
import proto
from google.longrunning import operations_pb2
from google.protobuf import empty_pb2, json_format
from google.protobuf.message import Message

OPERATIONS_SERVICE = "google.longrunning.Operations"
AIPLATFORM_SERVICE_MODULE = "google.cloud.aiplatform_v1.services.job_service"

# The long-running Operations methods: (request type, response type).
_OPERATIONS_TYPES: dict[str, tuple[type[Message], type[Message]]] = {
    "GetOperation": (operations_pb2.GetOperationRequest, operations_pb2.Operation),
    "ListOperations": (operations_pb2.ListOperationsRequest, operations_pb2.ListOperationsResponse),
    "DeleteOperation": (operations_pb2.DeleteOperationRequest, empty_pb2.Empty),
    "CancelOperation": (operations_pb2.CancelOperationRequest, empty_pb2.Empty),
    "WaitOperation": (operations_pb2.WaitOperationRequest, operations_pb2.Operation),
}


class ApiError(Exception):
    """An API error as Google APIs return it (gRPC status code + message)."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Rpc:
    """One unary method: how it is named, typed, answered and bound to HTTP."""

    service: str  # full gRPC service name, e.g. "google.cloud.aiplatform.v1.JobService"
    method: str  # e.g. "CreateCustomJob"
    request_type: type  # a proto-plus message class or a raw protobuf class
    response_type: type
    handler: Callable[[Any], Any]  # request message -> response message; raises ApiError
    http_rules: tuple[dict, ...] = ()  # [{"method": "post", "uri": "/v1/{...}", "body": "*"}]


def is_proto_plus(message_type: type) -> bool:
    """Whether `message_type` is a proto-plus class (rather than a raw protobuf one)."""
    return isinstance(message_type, type) and issubclass(message_type, proto.Message)


def pb_class(message_type: type) -> type[Message]:
    """The raw protobuf class behind `message_type`."""
    return message_type.pb() if is_proto_plus(message_type) else message_type


def to_pb(message_type: type, message: Any) -> Message:
    """`message` as a raw protobuf; accepts either form of `message_type`."""
    if is_proto_plus(message_type) and isinstance(message, message_type):
        return message_type.pb(message)
    if isinstance(message, pb_class(message_type)):
        return message
    raise TypeError(f"expected a {message_type.__qualname__}, got a {type(message).__qualname__}")


def from_pb(message_type: type, message: Message) -> Any:
    """A raw protobuf as `message_type` (proto-plus wraps it without copying)."""
    return message_type.wrap(message) if is_proto_plus(message_type) else message


def deserialize(message_type: type, data: bytes) -> Any:
    """Parse protobuf wire bytes into a `message_type` message."""
    return from_pb(message_type, pb_class(message_type).FromString(data))


def serialize(message_type: type, message: Any) -> bytes:
    """Protobuf wire bytes of `message`."""
    return to_pb(message_type, message).SerializeToString()


def to_json(message_type: type, message: Any, *, integer_enums: bool = False) -> str:
    """Protojson as Google's REST APIs write it: camelCase names, defaults left out."""
    return json_format.MessageToJson(
        to_pb(message_type, message),
        preserving_proto_field_name=False,
        use_integers_for_enums=integer_enums,
    )


def from_json(message_type: type, text: str | bytes) -> Any:
    """Parse protojson (either field-name style); unknown fields raise ParseError."""
    return from_pb(message_type, json_format.Parse(text, pb_class(message_type)()))


def gapic_http_rules(service_module_path: str, method: str) -> tuple[dict, ...]:
    """The REST bindings of `method` as the installed GAPIC REST transport sends it.

    `service_module_path` is a GAPIC service package, e.g.
    "google.cloud.aiplatform_v1.services.job_service"; `method` is the gRPC method
    name, including the mixins a service's REST transport carries (GetOperation,
    ListOperations, DeleteOperation, CancelOperation, WaitOperation, GetLocation...).
    """
    module = importlib.import_module(f"{service_module_path}.transports.rest_base")
    bases = [
        value
        for name, value in vars(module).items()
        if name.startswith("_Base") and name.endswith("RestTransport") and isinstance(value, type)
    ]
    if len(bases) != 1:
        raise ValueError(f"{module.__name__} has {len(bases)} REST base transports, expected 1")
    binding = getattr(bases[0], f"_Base{method}", None)
    if binding is None:
        raise ValueError(f"{service_module_path} has no REST binding for method {method!r}")
    return tuple(dict(rule) for rule in binding._get_http_options())


def operations_rpc(
    method: str,
    handler: Callable[[Any], Any],
    service_module_path: str = AIPLATFORM_SERVICE_MODULE,
) -> Rpc:
    """An Rpc of google.longrunning.Operations with the REST bindings of a GAPIC service.

    Every aiplatform_v1 service carries the same Operations bindings (the shared
    `/v1/{name=projects/*/locations/*/operations/*}` and one per resource kind, such as
    `/v1/{name=projects/*/locations/*/customJobs/*/operations/*}`), so one default does.
    """
    if method not in _OPERATIONS_TYPES:
        raise ValueError(f"{method!r} is not a google.longrunning.Operations method")
    request_type, response_type = _OPERATIONS_TYPES[method]
    rules = gapic_http_rules(service_module_path, method)
    return Rpc(OPERATIONS_SERVICE, method, request_type, response_type, handler, rules)


def service_rpcs(
    service: str, gapic_module: str, methods: Iterable[tuple[str, type, type, Callable]]
) -> list[Rpc]:
    """The Rpcs of one service: (method, request type, response type, handler) each, bound to
    HTTP as `gapic_module`'s REST transport binds them."""
    return [
        Rpc(service, method, request, response, handler, gapic_http_rules(gapic_module, method))
        for method, request, response, handler in methods
    ]
