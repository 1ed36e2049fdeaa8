"""Which predict requests the server takes on: a bound on those in flight, and the drain.

Every predict request (REST or gRPC) enters before its body is used and leaves
when it is answered. Past `max_concurrent` in flight, a request is refused at
once with 429 and Retry-After, rather than queueing until it times out. Once
`begin_drain()` is called (SIGTERM), every new request is refused with 503 and
/health answers 503, while those in flight finish; `wait_idle` tells when none
is left.
"""

from __future__ import annotations

import threading
import time

from serving.server import metrics
from serving.server.request_format import RequestError
from serving.server.settings import MAX_CONCURRENT_REQUESTS

RETRY_AFTER_S = 1


class Admission:
    def __init__(self, max_concurrent: int = 256) -> None:
        MAX_CONCURRENT_REQUESTS.check(max_concurrent)
        self.max_concurrent = max_concurrent
        self.in_flight = 0
        self.draining = False
        self._changed = threading.Condition()

    def enter(self, model: str = "") -> None:
        """Count one more request in flight, or RequestError 503 (draining) / 429 (full)."""
        with self._changed:
            if self.draining:
                metrics.refused(model, "draining")
                raise RequestError(
                    503, "The server is shutting down: send the request to another replica."
                )
            if self.in_flight >= self.max_concurrent:
                metrics.refused(model, "overloaded")
                raise RequestError(
                    429,
                    f"The server is busy: {self.in_flight} requests are in progress (the limit "
                    f"is {self.max_concurrent}, --max-concurrent-requests): retry in "
                    f"{RETRY_AFTER_S} s.",
                )
            self.in_flight += 1

    def leave(self) -> None:
        with self._changed:
            self.in_flight -= 1
            self._changed.notify_all()

    def begin_drain(self) -> None:
        with self._changed:
            self.draining = True
            self._changed.notify_all()

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no request is in flight (True), or `timeout_s` passed (False)."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while self.in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True
