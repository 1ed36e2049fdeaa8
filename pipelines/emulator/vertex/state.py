"""The emulator's resources, shared by its services: one lock, one id sequence, one request log.

Resources are the aiplatform_v1 proto-plus messages themselves, keyed by
resource name, so what a client reads back is exactly what a service stored.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

import grpc

from pipelines.emulator.rpc.rpc import ApiError


@dataclass(frozen=True)
class RecordedRequest:
    """One API call as a client sent it (for tests to assert on)."""

    transport: str  # "grpc" or "rest"
    service: str
    method: str
    request: Any


@dataclass
class EmulatorState:
    project: str
    location: str
    resources: dict[str, Any] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    faults: dict[str, ApiError] = field(default_factory=dict)  # method -> the error it answers
    lock: threading.RLock = field(default_factory=threading.RLock)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1001))

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.location}"

    def new_id(self) -> str:
        with self.lock:
            return str(next(self._ids))

    def add(self, name: str, resource: Any) -> Any:
        with self.lock:
            if name in self.resources:
                raise ApiError(grpc.StatusCode.ALREADY_EXISTS, f"{name} already exists.")
            self.resources[name] = resource
            return resource

    def get(self, name: str, kind: str) -> Any:
        with self.lock:
            try:
                return self.resources[name]
            except KeyError:
                raise ApiError(grpc.StatusCode.NOT_FOUND, f"{kind} {name} is not found.") from None

    def delete(self, name: str, kind: str) -> Any:
        with self.lock:
            resource = self.get(name, kind)
            del self.resources[name]
            return resource

    def children(self, parent: str, collection: str) -> list[Any]:
        """Resources directly under `parent/collection`, oldest first."""
        prefix = f"{parent}/{collection}/"
        with self.lock:
            return [
                r
                for n, r in self.resources.items()
                if n.startswith(prefix) and "/" not in n[len(prefix) :]
            ]

    def observe(self, transport: str, rpc: Any, request: Any) -> None:
        """Every request, before its handler: recorded, and failed if a fault is set for it."""
        with self.lock:
            self.requests.append(RecordedRequest(transport, rpc.service, rpc.method, request))
            fault = self.faults.get(rpc.method)
        if fault is not None:
            raise fault

    def fail(self, method: str, code: grpc.StatusCode, message: str) -> None:
        """Answer every call of `method` (e.g. "CreateEndpoint") with this error until `heal`,
        as Vertex answers a missing permission or an exhausted quota."""
        with self.lock:
            self.faults[method] = ApiError(code, message)

    def heal(self) -> None:
        with self.lock:
            self.faults.clear()

    def calls(self, method: str) -> list[Any]:
        """The requests of one method (e.g. "CreateCustomJob"), in order."""
        with self.lock:
            return [r.request for r in self.requests if r.method == method]


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
