"""Server-side dynamic batching: concurrent requests share one model call.

Each request's instances go into a queue; one thread takes the first waiting
request, then keeps adding requests until the batch holds `max_batch_size`
instances or `max_wait_s` has passed since it started, calls the model once
on all of them, and hands each request its rows. With `max_wait_s` 0 (the
default) it waits for nothing: a lone request runs at once, and under load
the requests that queued while the model was busy form the next batch
(measured in BENCHMARKS.md: better than a 5 ms wait at every load). A
request larger than `max_batch_size` runs alone, whole.

When a shared call fails (one request carried bytes that are not an image,
say), or returns outputs that are not one row per instance, every request of
that batch is run alone, so only the bad one gets the error. A failure of
the batcher itself fails the requests it held, never the thread.
`max_batch_size` 1 turns batching off: each request is one call, made in the
request's own thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

import numpy as np

log = logging.getLogger(__name__)

Predict = Callable[[np.ndarray], dict[str, np.ndarray]]

_STOP = object()


class DynamicBatcher:
    def __init__(
        self, predict: Predict, max_batch_size: int = 32, max_wait_s: float = 0.0, name: str = ""
    ) -> None:
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be at least 1, got {max_batch_size}.")
        if max_wait_s < 0:
            raise ValueError(f"max_wait_s must be 0 or more, got {max_wait_s}.")
        self._predict, self.max_batch_size, self.max_wait_s = predict, max_batch_size, max_wait_s
        self._queue: queue.Queue = queue.Queue()
        self._closing = threading.Lock()  # orders the last requests before the stop mark
        self._closed = False
        self._failed: list[tuple[np.ndarray, Future]] = []  # the batch being formed or run
        self._stop_seen = False
        self._thread: threading.Thread | None = None
        if max_batch_size > 1:
            self._thread = threading.Thread(target=self._loop, name=f"batcher {name}", daemon=True)
            self._thread.start()

    def predict(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """The model's outputs for `batch`, computed together with concurrent requests."""
        future: Future = Future()
        with self._closing:
            alone = self._thread is None or self._closed
            if not alone:
                self._queue.put((batch, future))
        return self._predict(batch) if alone else future.result()

    def close(self) -> None:
        """Finish the requests already queued, then stop the thread; later requests run alone."""
        with self._closing:
            if self._closed or self._thread is None:
                return
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join(timeout=60)

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            try:
                self._gather_and_run(first)
            except BaseException as exc:  # never let the thread die with requests waiting
                log.exception("The batcher failed")
                for _, future in self._failed:
                    if not future.done():
                        future.set_exception(exc)
            if self._stop_seen:
                return

    def _gather_and_run(self, first: tuple[np.ndarray, Future]) -> None:
        """Collect a batch after `first` and run it (noting when the stop mark comes)."""
        pending, rows = [first], len(first[0])
        self._failed = pending
        deadline = time.monotonic() + self.max_wait_s
        while rows < self.max_batch_size:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if item is _STOP:
                self._stop_seen = True
                break
            if rows + len(item[0]) > self.max_batch_size:  # full: run it, start the next
                self._run(pending)
                pending, rows = [], 0
                self._failed = pending
                deadline = time.monotonic() + self.max_wait_s
            pending.append(item)
            rows += len(item[0])
        self._run(pending)

    def _run(self, pending: list[tuple[np.ndarray, Future]]) -> None:
        if not pending:
            return
        if len(pending) == 1:
            _answer(self._predict, *pending[0])
            return
        total = sum(len(batch) for batch, _ in pending)
        try:
            outputs = self._predict(np.concatenate([batch for batch, _ in pending]))
        except Exception:  # some request of the batch is bad: find out which
            log.info("A batch of %d requests failed; retrying each alone", len(pending))
            outputs = None
        if outputs is None or any(np.ndim(v) == 0 or len(v) != total for v in outputs.values()):
            for batch, future in pending:  # alone, each request gets its outputs whole
                _answer(self._predict, batch, future)
            return
        start = 0
        for batch, future in pending:
            end = start + len(batch)
            future.set_result({name: value[start:end] for name, value in outputs.items()})
            start = end


def _answer(predict: Predict, batch: np.ndarray, future: Future) -> None:
    try:
        future.set_result(predict(batch))
    except Exception as exc:  # the request's thread re-raises it
        future.set_exception(exc)
