"""Vertex AI resource names, checked the way the API checks them.

Vertex refuses a malformed name or one for another project or region with
INVALID_ARGUMENT before it looks anything up; the emulator does the same,
so a client bug shows here rather than on Google Cloud.
"""

from __future__ import annotations

import re

import grpc

from pipelines.emulator.rpc.rpc import ApiError

_ID = r"[A-Za-z0-9][A-Za-z0-9_-]*"
_PARENT = re.compile(rf"^projects/({_ID})/locations/([a-z0-9-]+)$")


def check_parent(parent: str, expected: str) -> str:
    """`parent` must be projects/<p>/locations/<l> of the emulated project and region."""
    if not _PARENT.match(parent or ""):
        raise ApiError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"Invalid parent {parent!r}: expected projects/{{project}}/locations/{{location}}.",
        )
    _check_scope(parent, expected)
    return parent


def check_name(name: str, collection: str, expected_parent: str) -> str:
    """`name` must be <parent>/<collection>/<id> (a model may add @<version or alias>)."""
    pattern = rf"^projects/{_ID}/locations/[a-z0-9-]+/{collection}/{_ID}(@[A-Za-z0-9_-]+)?$"
    if not re.match(pattern, name or ""):
        raise ApiError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"Invalid resource name {name!r}: expected "
            f"projects/{{project}}/locations/{{location}}/{collection}/{{id}}.",
        )
    _check_scope(name, expected_parent)
    return name


def resource_id(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def _check_scope(name: str, expected_parent: str) -> None:
    parent = "/".join(name.split("/")[:4])
    if parent != expected_parent:
        raise ApiError(
            grpc.StatusCode.PERMISSION_DENIED,
            f"{name} is outside the emulated {expected_parent}: the emulator serves one project "
            "and region (set GOOGLE_CLOUD_PROJECT and VERTEX_REGION to them).",
        )
