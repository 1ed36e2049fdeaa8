"""Long-running operations: what create, upload, deploy and undeploy answer with.

Work runs in a thread; GetOperation and WaitOperation report it, done with
the response (packed in an Any, as Vertex does) or with the error status.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import grpc
from google.longrunning import operations_pb2
from google.protobuf.message import Message
from google.rpc import status_pb2

from pipelines.emulator.rpc.rpc import ApiError, Rpc, operations_rpc
from pipelines.emulator.vertex.state import EmulatorState

_WAIT_LIMIT_S = 30.0


class Operations:
    def __init__(self, state: EmulatorState):
        self._state = state
        self._operations: dict[str, operations_pb2.Operation] = {}
        self._finished: dict[str, threading.Event] = {}

    def rpcs(self) -> list[Rpc]:
        return [
            operations_rpc("GetOperation", lambda request: self.get(request.name)),
            operations_rpc(
                "WaitOperation",
                lambda request: self.wait(
                    request.name, request.timeout.ToTimedelta().total_seconds()
                ),
            ),
        ]

    def run(
        self, resource: str, work: Callable[[], Any], background: bool = False
    ) -> operations_pb2.Operation:
        """An operation on `resource` whose result is `work()` (a proto-plus message)."""
        name = f"{resource}/operations/{self._state.new_id()}"
        finished = threading.Event()
        with self._state.lock:
            self._operations[name] = operations_pb2.Operation(name=name)
            self._finished[name] = finished
        if background:
            threading.Thread(target=self._complete, args=(name, work), daemon=True).start()
        else:
            self._complete(name, work)
        return self.get(name)

    def get(self, name: str) -> operations_pb2.Operation:
        with self._state.lock:
            if name not in self._operations:
                raise ApiError(grpc.StatusCode.NOT_FOUND, f"Operation {name} is not found.")
            copy = operations_pb2.Operation()
            copy.CopyFrom(self._operations[name])
            return copy

    def wait(self, name: str, timeout_s: float) -> operations_pb2.Operation:
        self.get(name)
        self._finished[name].wait(min(timeout_s or _WAIT_LIMIT_S, _WAIT_LIMIT_S))
        return self.get(name)

    def _complete(self, name: str, work: Callable[[], Any]) -> None:
        operation = operations_pb2.Operation(name=name, done=True)
        try:
            result = work()
            if result is not None:  # a proto-plus message, or a raw one (Empty)
                operation.response.Pack(
                    result if isinstance(result, Message) else type(result).pb(result)
                )
        except ApiError as error:
            operation.error.CopyFrom(
                status_pb2.Status(code=error.code.value[0], message=error.message)
            )
        except Exception as error:  # a service bug must still end the operation
            operation.error.CopyFrom(
                status_pb2.Status(code=grpc.StatusCode.INTERNAL.value[0], message=repr(error))
            )
        with self._state.lock:
            self._operations[name] = operation
        self._finished[name].set()
