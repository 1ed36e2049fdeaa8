"""uvicorn's httptools protocol, with JSON errors and a bound on the request head.

uvicorn answers a request that its parser refuses (a malformed request line, an
unknown method, conflicting framing) with a plain-text 400 of its own; this
server promises JSON errors, so that answer is `{"error": ...}` here, with the
parser's reason. llhttp has no limit on the size of a request's head, so a
client could send headers without end: past MAX_HEAD_BYTES the request gets 431
and the connection closes.
"""

from __future__ import annotations

import json

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 2**10


class HeadTooLarge(Exception):
    """The request line and headers passed MAX_HEAD_BYTES."""


class JsonErrorsProtocol(HttpToolsProtocol):
    head_bytes = 0
    refusal = ""

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.head_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def _count(self, size: int) -> None:
        self.head_bytes += size
        if self.head_bytes > MAX_HEAD_BYTES:
            raise HeadTooLarge()

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:  # websockets are not served: as a plain request
            return
        except httptools.HttpParserError as exc:
            cause = exc.__context__ if isinstance(exc.__context__, HeadTooLarge) else exc
            self._refuse(cause)

    def _refuse(self, cause: BaseException) -> None:
        if isinstance(cause, HeadTooLarge):
            status, reason = 431, "Request Header Fields Too Large"
            message = (
                f"The request line and headers pass {MAX_HEAD_BYTES} bytes: send shorter headers."
            )
        else:
            status, reason = 400, "Bad Request"
            detail = str(cause).strip() or type(cause).__name__
            message = f"Invalid HTTP request: {detail}."
        body = json.dumps({"error": message}).encode("utf-8")
        head = (
            f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        ).encode("ascii")
        self.logger.info("Refused a request: %s", message)
        self.transport.write(head + body)
        self.transport.close()
