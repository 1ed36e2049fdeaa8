"""A request's body, read from the ASGI connection within its limits and deadline.

- Framing that two parsers could read differently is refused with 400 and
  the connection closed, as RFC 9112 section 6.3 asks: two Content-Length
  values, or Transfer-Encoding together with Content-Length (the request
  smuggling classes).
- A body over `--max-body-bytes` gets 413. The client is usually still
  sending it, and a connection closed on unread data is reset, so the client
  would never read the answer: first up to DRAIN_BYTES of it are read and
  dropped, for at most DRAIN_SECONDS (nginx's lingering close), then the 413
  goes out and the connection closes. A client that sent `Expect:
  100-continue` gets the 413 before sending anything.
- A body that stops arriving before its end gets 408 at the request's
  deadline, naming how many bytes did arrive.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from serving.server.request_format import RequestError

Receive = Callable[[], Awaitable[dict]]

DRAIN_BYTES = 64 * 2**20
DRAIN_SECONDS = 5.0


class ClientGone(Exception):
    """The client closed the connection: there is no one to answer."""


def declared_length(headers: list[tuple[bytes, bytes]], method: str) -> int | None:
    """The Content-Length (None: chunked); RequestError for framing that is refused."""
    lengths = [v for k, v in headers if k == b"content-length"]
    chunked = any(k == b"transfer-encoding" for k, _ in headers)
    if chunked and lengths:
        raise RequestError(
            400, "The request has both Transfer-Encoding and Content-Length: send one of them."
        )
    if len(lengths) > 1:
        raise RequestError(400, "The request has more than one Content-Length header: send one.")
    if chunked:
        return None
    if not lengths:
        if method == "POST":
            raise RequestError(411, "The request needs a Content-Length header.")
        return 0
    text = lengths[0].decode("latin-1").strip()
    if not (text.isascii() and text.isdigit()):
        raise RequestError(400, f"Content-Length {text!r} is not a number.")
    return int(text)


async def read_body(
    receive: Receive,
    length: int | None,
    limit: int,
    deadline: float,
    expects_continue: bool = False,
) -> bytes:
    """The whole body (`length` bytes, or chunked when None) by `deadline` (time.monotonic())."""
    if length is not None and length > limit:
        if not expects_continue:
            await _drain(receive)
        raise _too_large(str(length) if len(str(length)) <= 18 else "over 10^18", limit)
    parts, size = [], 0
    more = length is None or length > 0
    while more:
        message = await _receive_by(receive, deadline, size, length)
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            await _drain(receive)
            raise _too_large(f"over {limit}", limit)
        parts.append(chunk)
        more = message.get("more_body", False)
    return b"".join(parts)


async def _receive_by(receive: Receive, deadline: float, size: int, length: int | None) -> dict:
    try:
        return await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
    except TimeoutError:
        expected = f"of {length} " if length is not None else ""
        raise RequestError(
            408,
            f"The body ended after {size} {expected}bytes: it did not arrive before the "
            "request's deadline (--request-timeout-ms).",
        ) from None


async def _drain(receive: Receive) -> None:
    """Read and drop what the client still sends, up to DRAIN_BYTES and DRAIN_SECONDS."""
    stop_at, dropped = time.monotonic() + DRAIN_SECONDS, 0
    while dropped < DRAIN_BYTES:
        try:
            message = await asyncio.wait_for(receive(), max(0.0, stop_at - time.monotonic()))
        except TimeoutError:
            return
        if message["type"] == "http.disconnect":
            return
        dropped += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def _too_large(size: str, limit: int) -> RequestError:
    return RequestError(
        413,
        f"The request body is {size} bytes; the limit is {limit} (--max-body-bytes): send "
        "fewer instances per request.",
    )
