"""Server-side dynamic batching: concurrent requests share one model call, from a bounded queue.

Each request's instances go into a queue; one thread takes the first waiting
request, then keeps adding requests until the batch holds `max_batch_size`
instances or `max_wait_s` has passed since it started, calls the model once
on all of them, and hands each request its rows. With `max_wait_s` 0 (the
default) it waits for nothing: a lone request runs at once, and under load
the requests that queued while the model was busy form the next batch
(measured in BENCHMARKS.md: better than a 5 ms wait at every load).

Bounds, as TF Serving's batching has them:
- the queue holds at most `max_enqueued_batches` x `max_batch_size`
  instances; a request that does not fit is refused at once (RequestError
  429), so under overload latency stays bounded instead of growing. A
  request larger than the whole queue (--max-instances bounds it) is taken
  only when the queue is empty;
- the queue is also bounded in time, as CoDel bounds a network queue. A
  request is refused (429) when the full batches queued ahead of it would
  take longer than `max_queue_s` at the model's recent seconds per call (an
  EWMA of its successful calls), or when the oldest queued request has
  waited `max_queue_s` past one call (the model slowed down: a CPU shared
  with other work). One batch always fits, so a model slower than the bound
  still batches. The instance bound alone lets the wait grow with the
  model's cost and speed; with the time bound, the accepted requests'
  latency under overload stays near `max_queue_s` plus a call or two,
  whatever the offered load. `admit()` asks the same before a request's
  body is read, so a refusal costs almost nothing. With batching off only
  the oldest request's wait counts;
- a request larger than `max_batch_size` is cut into batches of that size
  that queue like any other, so one large request never holds the model
  for long while others wait;
- a request whose deadline has passed, or whose future was cancelled (its
  client went away), is dropped when its turn comes and uses no model.

When a shared call fails (one request carried bytes that are not an image,
say), or returns outputs that are not one row per instance, every request of
that batch is run alone, so only the bad one gets the error. A failure of
the batcher itself fails the requests it held, never the thread.
`max_batch_size` 1 turns batching off: each request is one model call, on a
small pool of threads.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from serving.server import metrics
from serving.server.request_format import RequestError

log = logging.getLogger(__name__)

Predict = Callable[[np.ndarray], dict[str, np.ndarray]]
Item = tuple[np.ndarray, Future, float | None]  # (instances, their future, deadline)

_STOP = object()
RETRY_AFTER_S = 1
POOL_THREADS = max(4, os.cpu_count() or 1)  # batching off: model calls at once
SPEED_WEIGHT = 0.2  # of the latest call in the EWMA of seconds per call


class DynamicBatcher:
    def __init__(
        self,
        predict: Predict,
        max_batch_size: int = 32,
        max_wait_s: float = 0.0,
        name: str = "",
        max_enqueued_batches: int = 8,
        labels: tuple[str, str] = ("", ""),  # (model, version) for the metrics
        max_queue_s: float | None = None,  # None: the queue is bounded in instances only
    ) -> None:
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be at least 1, got {max_batch_size}.")
        if max_wait_s < 0:
            raise ValueError(f"max_wait_s must be 0 or more, got {max_wait_s}.")
        if max_enqueued_batches < 1:
            raise ValueError(f"max_enqueued_batches must be at least 1, got {max_enqueued_batches}")
        self._predict, self.max_batch_size, self.max_wait_s = predict, max_batch_size, max_wait_s
        if max_queue_s is not None and not max_queue_s > 0:
            raise ValueError(f"max_queue_s must be more than 0, got {max_queue_s}")
        self.max_enqueued_batches, self.labels = max_enqueued_batches, labels
        self.max_queue_s = max_queue_s
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()  # orders the last requests before the stop mark
        self._queued = 0  # instances (batching off: requests) waiting, under _lock
        self._arrivals: deque[float] = deque()  # when each queued item came, oldest first
        self._seconds_per_call = 0.0  # the model's recent speed (batching on), an EWMA
        self._closed = False
        self._failed: list[Item] = []  # the batch being formed or run
        self._stop_seen = False
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        if max_batch_size > 1:
            self._thread = threading.Thread(target=self._loop, name=f"batcher {name}", daemon=True)
            self._thread.start()
        else:
            self._pool = ThreadPoolExecutor(POOL_THREADS, thread_name_prefix=f"model {name}")

    @property
    def capacity(self) -> int:
        """Instances the queue holds (batching off: requests waiting for a thread)."""
        return self.max_enqueued_batches * self.max_batch_size

    @property
    def queued(self) -> int:
        return self._queued

    def predict(self, batch: np.ndarray, deadline: float | None = None) -> dict[str, np.ndarray]:
        """The model's outputs for `batch`, computed together with concurrent requests."""
        return self.submit(batch, deadline).result()

    def submit(self, batch: np.ndarray, deadline: float | None = None) -> Future:
        """A future of the outputs for `batch`; RequestError 429 at once when the queue is full.

        `deadline` (time.monotonic()) passed before the model ran: the future fails with
        RequestError 504. Cancelling the future before its turn keeps it from the model.
        """
        size = 1 if self._pool else len(batch)
        with self._lock:
            if self._closed:  # a retired version: requests that still reach it run alone
                future: Future = Future()
                _answer(self._predict, (batch, future, None))
                return future
            self._refuse_if_full(size)
            self._queued += size
            metrics.queue_changed(*self.labels, size)
            now = time.monotonic()
            if self._pool:
                future = Future()
                self._arrivals.append(now)
                self._pool.submit(self._run_alone, (batch, future, deadline))
                return future
            chunks = [
                (batch[start : start + self.max_batch_size], Future(), deadline)
                for start in range(0, len(batch), self.max_batch_size)
            ]
            for chunk in chunks:
                self._arrivals.append(now)
                self._queue.put(chunk)
        return chunks[0][1] if len(chunks) == 1 else _joined([f for _, f, _ in chunks])

    def admit(self) -> None:
        """RequestError 429 when a request would be refused now, before its body is read."""
        with self._lock:
            if not self._closed:
                self._refuse_if_full(1)

    def _refuse_if_full(self, size: int) -> None:
        """RequestError 429 when `size` more instances do not fit the queue, in room or in time."""
        if not self._arrivals:
            return
        model = self.labels[0] or "the model"
        if self._queued + size > self.capacity:
            metrics.refused(self.labels[0], "queue_full")
            raise RequestError(
                429,
                f"The server is busy: {self._queued} instances wait for {model} "
                f"(the queue holds {self.capacity}): retry in {RETRY_AFTER_S} s.",
            )
        if self.max_queue_s is None:
            return
        waited = time.monotonic() - self._arrivals[0]
        if waited > self.max_queue_s + self._seconds_per_call:
            why = f"the oldest request for {model} has waited {waited * 1000:.0f} ms"
        else:
            ahead = (self._queued // self.max_batch_size) * self._seconds_per_call
            if ahead <= self.max_queue_s:
                return
            why = f"requests for {model} would wait about {ahead * 1000:.0f} ms"
        metrics.refused(self.labels[0], "queue_delay")
        raise RequestError(
            429,
            f"The server is busy: {why} in its queue (the bound is "
            f"{self.max_queue_s * 1000:g} ms, --max-queue-ms): retry in {RETRY_AFTER_S} s.",
        )

    @property
    def closed(self) -> bool:
        """Retired: requests that still reach it run alone, in the caller's thread."""
        return self._closed

    def close(self) -> None:
        """Finish the requests already queued, then stop; later requests run alone."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._thread is not None:
                self._queue.put(_STOP)
        if self._thread is not None:
            self._thread.join(timeout=60)
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def _dequeued(self, item: Item) -> bool:
        """Take `item` off the queue's count; False when it must not run (cancelled, too late)."""
        size = 1 if self._pool else len(item[0])
        with self._lock:
            self._queued -= size
            self._arrivals.popleft()
        metrics.queue_changed(*self.labels, -size)
        _, future, deadline = item
        if not future.set_running_or_notify_cancel():
            metrics.refused(self.labels[0], "client_gone")
            return False
        if deadline is not None and time.monotonic() > deadline:
            metrics.refused(self.labels[0], "deadline")
            future.set_exception(
                RequestError(504, "The request waited past its deadline (--request-timeout-ms).")
            )
            return False
        return True

    def _run_alone(self, item: Item) -> None:
        if self._dequeued(item):
            metrics.batch_run(*self.labels, len(item[0]))
            _answer(self._predict, item)

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            try:
                self._gather_and_run(first)
            except BaseException as exc:  # never let the thread die with requests waiting
                log.exception("The batcher failed")
                for _, future, _ in self._failed:
                    if not future.done():
                        future.set_exception(exc)
            if self._stop_seen:
                return

    def _gather_and_run(self, first: Item) -> None:
        """Collect a batch after `first` and run it (noting when the stop mark comes)."""
        pending: list[Item] = [first] if self._dequeued(first) else []
        rows = sum(len(item[0]) for item in pending)
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
            if not self._dequeued(item):
                continue
            if rows + len(item[0]) > self.max_batch_size:  # full: run it, start the next
                self._run(pending)
                pending, rows = [], 0
                self._failed = pending
                deadline = time.monotonic() + self.max_wait_s
            pending.append(item)
            rows += len(item[0])
        self._run(pending)

    def _run(self, pending: list[Item]) -> None:
        if not pending:
            return
        total = sum(len(batch) for batch, _, _ in pending)
        metrics.batch_run(*self.labels, total)
        self._run_together(pending, total)

    def _timed_predict(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """The model's outputs; a call that succeeds updates the EWMA of seconds per call."""
        started = time.monotonic()
        outputs = self._predict(batch)
        seconds, previous = time.monotonic() - started, self._seconds_per_call
        self._seconds_per_call = (
            previous + SPEED_WEIGHT * (seconds - previous) if previous else seconds
        )
        return outputs

    def _run_together(self, pending: list[Item], total: int) -> None:
        """One model call for all of `pending`; each alone if that fails."""
        if len(pending) == 1:
            _answer(self._timed_predict, pending[0])
            return
        try:
            outputs = self._timed_predict(np.concatenate([batch for batch, _, _ in pending]))
        except Exception:  # some request of the batch is bad: find out which
            log.info("A batch of %d requests failed; retrying each alone", len(pending))
            outputs = None
        if outputs is None or not _per_row(outputs, total):
            for item in pending:  # alone, each request gets its outputs whole
                _answer(self._predict, item)
            return
        start = 0
        for batch, future, _ in pending:
            end = start + len(batch)
            future.set_result({name: value[start:end] for name, value in outputs.items()})
            start = end


def _per_row(outputs: dict[str, np.ndarray], rows: int) -> bool:
    return all(np.ndim(v) > 0 and len(v) == rows for v in outputs.values())


def _answer(predict: Predict, item: Item) -> None:
    batch, future, _ = item
    try:
        future.set_result(predict(batch))
    except Exception as exc:  # the request's own thread re-raises it
        future.set_exception(exc)


def _joined(parts: list[Future]) -> Future:
    """One future of the parts' outputs, concatenated; cancelling it cancels the parts."""
    whole: Future = Future()
    remaining = [len(parts)]
    lock = threading.Lock()

    def part_done(_: Future) -> None:
        with lock:
            remaining[0] -= 1
            if remaining[0] or whole.done():
                return
        try:
            results = [part.result() for part in parts]
        except BaseException as exc:  # a part failed or was cancelled
            if not whole.done():
                whole.set_exception(exc if isinstance(exc, Exception) else RuntimeError(exc))
            return
        rows = [len(next(iter(r.values()))) if r else 0 for r in results]
        if not all(_per_row(r, n) for r, n in zip(results, rows, strict=True)):
            whole.set_exception(
                RequestError(
                    500,
                    "The model's outputs are not one row per instance, so a "
                    "request larger than --max-batch-size cannot be answered: send fewer.",
                )
            )
            return
        whole.set_result({name: np.concatenate([r[name] for r in results]) for name in results[0]})

    def cancel_parts(future: Future) -> None:
        if future.cancelled():
            for part in parts:
                part.cancel()

    whole.add_done_callback(cancel_parts)
    for part in parts:
        part.add_done_callback(part_done)
    return whole
