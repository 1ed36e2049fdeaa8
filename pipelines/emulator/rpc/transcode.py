"""HTTP/JSON transcoding: a REST call becomes the request message of a gRPC method.

This follows google/api/http.proto as Google's front ends apply it. A rule's URI
template (`{field.path=pattern}`, `*` one segment, `**` several, an optional `:verb`)
binds path values, percent-decoded, to request fields; the rule's `body` says where
the JSON body goes (`*` the whole request, a field name that field, absent nowhere);
query parameters (proto or JSON names, dotted for nested fields, repeated for lists)
fill the remaining fields. Unknown names are INVALID_ARGUMENT, as at Google.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import grpc
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from pipelines.emulator.rpc.rpc import ApiError, Rpc, from_pb, pb_class

# Google's system parameters: accepted on any call, never bound to a request field.
SYSTEM_PARAMETERS = frozenset(
    {
        "$alt",
        "alt",
        "$.xgafv",
        "access_token",
        "callback",
        "$callback",
        "fields",
        "$fields",
        "key",
        "oauth_token",
        "prettyPrint",
        "$prettyPrint",
        "quotaUser",
        "$quotaUser",
        "upload_protocol",
        "uploadType",
    }
)

_VARIABLE = re.compile(r"\{([^}=]+)(?:=([^}]*))?\}")


@dataclass(frozen=True)
class Route:
    """One HTTP binding of an Rpc, compiled."""

    rpc: Rpc
    http_method: str  # upper case, e.g. "POST"
    uri: str
    body: str | None
    pattern: re.Pattern[str]
    variables: tuple[str, ...]  # field paths, in the order of the pattern's groups

    @property
    def has_verb(self) -> bool:
        return bool(re.search(r":[^/}]+$", self.uri))


def _segments_regex(text: str) -> str:
    return "".join(
        ".+" if part == "**" else "[^/]+" if part == "*" else re.escape(part)
        for part in re.split(r"(\*\*|\*)", text)
        if part
    )


def _field(descriptor: Descriptor, name: str) -> FieldDescriptor | None:
    field = descriptor.fields_by_name.get(name)
    if field is None:
        field = next((f for f in descriptor.fields if f.json_name == name), None)
    return field


def _resolve(descriptor: Descriptor, path: str) -> list[FieldDescriptor] | str:
    """The fields along a dotted path, or the part that names no field there."""
    fields: list[FieldDescriptor] = []
    scope: Descriptor | None = descriptor
    for part in path.split("."):
        field = _field(scope, part) if scope is not None else None
        if field is None:
            return part
        fields.append(field)
        scope = None if field.is_repeated else field.message_type
    return fields


def compile_route(rpc: Rpc, rule: dict) -> Route:
    """Compile one http rule of `rpc`; a rule naming fields the request lacks is a bug."""
    request = pb_class(rpc.request_type).DESCRIPTOR
    uri = rule["uri"]
    regex, variables, position = "", [], 0
    for variable in _VARIABLE.finditer(uri):
        regex += _segments_regex(uri[position : variable.start()])
        regex += f"({_segments_regex(variable.group(2) or '*')})"
        variables.append(variable.group(1))
        position = variable.end()
    regex += _segments_regex(uri[position:])
    body = rule.get("body") or None
    for path in [*variables, *([body] if body not in (None, "*") else [])]:
        if isinstance(_resolve(request, path), str):
            raise ValueError(f"{rpc.method} rule {uri!r} names {path!r}, not in {request.name}")
    return Route(rpc, rule["method"].upper(), uri, body, re.compile(regex), tuple(variables))


class Router:
    """Finds the route of an HTTP method and raw (percent-encoded) path."""

    def __init__(self, rpcs: Iterable[Rpc]) -> None:
        routes = [compile_route(rpc, rule) for rpc in rpcs for rule in rpc.http_rules]
        seen: dict[tuple[str, str], str] = {}
        for route in routes:
            key = (route.http_method, route.uri)
            if key in seen:
                raise ValueError(
                    f"{route.http_method} {route.uri} bound twice: {seen[key]}, {route.rpc.method}"
                )
            seen[key] = route.rpc.method
        # A template ending in `:verb` wins over one whose last `*` would swallow the verb.
        self.routes = sorted(routes, key=lambda route: not route.has_verb)

    def match(self, http_method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            if route.http_method != http_method:
                continue
            found = route.pattern.fullmatch(path)
            if found:
                return route, dict(zip(route.variables, map(unquote, found.groups()), strict=True))
        return None


def _invalid(message: str) -> ApiError:
    return ApiError(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid JSON payload received. {message}")


def _parse_into(values: dict, message: Message) -> None:
    try:
        json_format.ParseDict(values, message)
    except json_format.ParseError as exc:
        raise _invalid(str(exc)) from exc


def _query_value(key: str, field: FieldDescriptor, values: list[str]) -> Any:
    if field.type == FieldDescriptor.TYPE_BOOL:
        if any(value not in ("true", "false") for value in values):
            raise _invalid(f'Invalid value for bool field "{key}": {values}')
        values = [value == "true" for value in values]
    if field.is_repeated:
        return values
    if len(values) > 1:
        raise _invalid(f'Multiple values for non-repeated field "{key}": {values}')
    return values[0]


def _bind(tree: dict, descriptor: Descriptor, key: str, values: list[str]) -> None:
    fields = _resolve(descriptor, key)
    if isinstance(fields, str):
        raise _invalid(
            f'Unknown name "{key}": Cannot bind query parameter. '
            f"Field '{fields}' could not be found in request message."
        )
    for field in fields[:-1]:
        tree = tree.setdefault(field.name, {})
        if not isinstance(tree, dict):
            raise _invalid(f'"{key}" is bound both as a value and as a message.')
    tree[fields[-1].name] = _query_value(key, fields[-1], values)


def _load_json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except ValueError as exc:
        raise _invalid(f"{type(exc).__name__}: {exc}") from exc


def build_request(
    route: Route, path_values: dict[str, str], query: dict[str, list[str]], body: bytes
) -> Any:
    """The request message of `route.rpc` for one REST call; raises ApiError."""
    message = pb_class(route.rpc.request_type)()
    if route.body is not None and body.strip():
        payload = _load_json(body)
        if route.body == "*":
            if not isinstance(payload, dict):
                raise _invalid(f"The body must be a JSON object, got {type(payload).__name__}.")
            _parse_into(payload, message)
        else:
            _parse_into({route.body: payload}, message)
    overlay: dict = {}
    for key, values in query.items():
        if key not in SYSTEM_PARAMETERS:
            _bind(overlay, message.DESCRIPTOR, key, values)
    for field_path, value in path_values.items():  # path values win over query and body
        _bind(overlay, message.DESCRIPTOR, field_path, [value])
    _parse_into(overlay, message)
    return from_pb(route.rpc.request_type, message)
