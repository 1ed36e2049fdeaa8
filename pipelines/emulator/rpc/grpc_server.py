"""The gRPC face of the emulated APIs: a plaintext server answering from the Rpc table.

GCPC's custom job launcher and the aiplatform SDK's own components call Vertex AI over
gRPC; the TLS-terminating proxy hands their decrypted HTTP/2 to this server. Every call
ends with a status: ApiError as its code and message, any other failure as INTERNAL
(logged with its traceback), so a client never waits on a broken handler.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from pipelines.emulator.rpc.rpc import ApiError, Rpc, deserialize, serialize

logger = logging.getLogger(__name__)

RequestHook = Callable[[str, Rpc, Any], None]
_MAX_MESSAGE_BYTES = 100 * 1024 * 1024  # above what Vertex accepts: its limits are not ours


def _answer(rpc: Rpc, data: bytes, on_request: RequestHook | None) -> bytes:
    try:
        request = deserialize(rpc.request_type, data)
    except DecodeError as exc:
        raise ApiError(
            grpc.StatusCode.INVALID_ARGUMENT, f"Cannot parse {rpc.request_type.__name__}: {exc}"
        ) from exc
    if on_request is not None:
        on_request("grpc", rpc, request)
    return serialize(rpc.response_type, rpc.handler(request))


def _behavior(rpc: Rpc, on_request: RequestHook | None) -> Callable[[bytes, Any], bytes]:
    def behavior(data: bytes, context: grpc.ServicerContext) -> bytes:
        try:
            return _answer(rpc, data, on_request)
        except ApiError as exc:
            code, message = exc.code, exc.message
        except Exception as exc:
            logger.exception("gRPC /%s/%s failed", rpc.service, rpc.method)
            code, message = grpc.StatusCode.INTERNAL, f"{type(exc).__name__}: {exc}"
        context.abort(code, message)

    return behavior


def _generic_handlers(
    rpcs: Iterable[Rpc], on_request: RequestHook | None
) -> list[grpc.GenericRpcHandler]:
    services: dict[str, dict[str, grpc.RpcMethodHandler]] = defaultdict(dict)
    for rpc in rpcs:
        if rpc.method in services[rpc.service]:
            raise ValueError(f"/{rpc.service}/{rpc.method} is in the table twice")
        # Bytes in, bytes out: (de)serializing inside the behavior puts its errors in a status.
        services[rpc.service][rpc.method] = grpc.unary_unary_rpc_method_handler(
            _behavior(rpc, on_request)
        )
    return [
        grpc.method_handlers_generic_handler(name, methods) for name, methods in services.items()
    ]


@contextmanager
def running_grpc_server(
    rpcs: Iterable[Rpc],
    port: int = 0,
    on_request: RequestHook | None = None,
    max_workers: int = 16,
) -> Iterator[int]:
    """Serve `rpcs` over plaintext gRPC on 127.0.0.1 (`port` 0 picks a free one); yields the port.

    `on_request("grpc", rpc, request)` sees each request before its handler does.
    """
    executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="emulator-grpc")
    server = grpc.server(
        executor,
        handlers=_generic_handlers(rpcs, on_request),
        options=[
            ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES),
        ],
    )
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    try:
        yield bound
    finally:
        server.stop(grace=1).wait(timeout=5)
        executor.shutdown(wait=False)
