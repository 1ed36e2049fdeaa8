"""Dynamic batching: shared calls, split answers, a bad request failing alone, draining on close.

The model here is a plain function that records each call's batch size, so
the tests can see how requests were grouped; the server tests batch a real
SavedModel.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from serving.server.batcher import POOL_THREADS, DynamicBatcher
from serving.server.request_format import RequestError


class Model:
    def __init__(self, delay_s: float = 0.0) -> None:
        self.calls: list[int] = []
        self.delay_s = delay_s
        self.lock = threading.Lock()

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        with self.lock:
            self.calls.append(len(batch))
        if (batch < 0).any():
            raise ValueError("negative input")
        time.sleep(self.delay_s)
        return {"double": batch * 2, "ids": batch.astype(str)}


def _send_all(batcher: DynamicBatcher, batches: list[np.ndarray]) -> list:
    def send(batch):
        try:
            return batcher.predict(batch)
        except ValueError as exc:
            return exc

    with ThreadPoolExecutor(len(batches)) as pool:
        return list(pool.map(send, batches))


def test_concurrent_requests_share_calls_and_each_gets_its_own_rows():
    model = Model(delay_s=0.02)
    batcher = DynamicBatcher(model, max_batch_size=16, max_wait_s=0.05)
    batches = [np.array([i, i + 100]) for i in range(24)]
    results = _send_all(batcher, batches)
    batcher.close()
    for batch, result in zip(batches, results, strict=True):
        np.testing.assert_array_equal(result["double"], batch * 2)
        assert result["ids"].tolist() == [str(v) for v in batch]
    assert sum(model.calls) == 48
    assert max(model.calls) <= 16  # never more than max_batch_size instances per call
    assert len(model.calls) < 24  # fewer calls than requests


def test_a_request_larger_than_the_batch_is_cut_into_batches_and_joined():
    model = Model()
    batcher = DynamicBatcher(model, max_batch_size=4, max_wait_s=0.001)
    result = batcher.predict(np.arange(10))
    batcher.close()
    assert model.calls == [4, 4, 2] and result["double"].tolist() == list(range(0, 20, 2))


def test_a_bad_request_in_a_shared_batch_fails_alone():
    model = Model(delay_s=0.01)
    batcher = DynamicBatcher(model, max_batch_size=64, max_wait_s=0.05)
    batches = [np.array([-1 if i == 5 else i]) for i in range(12)]
    results = _send_all(batcher, batches)
    batcher.close()
    assert isinstance(results[5], ValueError)
    for i, result in enumerate(results):
        if i != 5:
            assert result["double"].tolist() == [2 * i]
    assert max(model.calls) > 1  # a shared batch formed (and failed) before the retries


def test_batching_off_calls_the_model_once_per_request_on_its_threads():
    calls = []

    def model(batch):
        calls.append((threading.current_thread().name, len(batch)))
        return {"x": batch}

    batcher = DynamicBatcher(model, max_batch_size=1, name="m")
    batcher.predict(np.array([1, 2]))
    batcher.predict(np.array([3, 4, 5]))
    batcher.close()
    assert [size for _, size in calls] == [2, 3]  # whole requests, never cut
    assert all(name.startswith("model m") for name, _ in calls)


def test_close_answers_what_was_queued_and_later_requests_still_work():
    model = Model(delay_s=0.05)
    batcher = DynamicBatcher(model, max_batch_size=2, max_wait_s=0.0)
    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(batcher.predict, np.array([i])) for i in range(6)]
        time.sleep(0.02)
        batcher.close()
        assert [f.result(timeout=10)["double"].tolist() for f in futures] == [
            [2 * i] for i in range(6)
        ]
    assert batcher.predict(np.array([7]))["double"].tolist() == [14]  # after close: alone


@pytest.mark.parametrize(("size", "wait"), [(0, 0.01), (4, -1.0)])
def test_bad_settings_are_refused(size, wait):
    with pytest.raises(ValueError, match="must be"):
        DynamicBatcher(Model(), max_batch_size=size, max_wait_s=wait)


def test_outputs_that_are_not_one_row_per_instance_are_computed_per_request():
    """A model whose output has no batch dimension: each request gets its own, whole."""
    calls = []

    def model(batch):
        calls.append(len(batch))
        time.sleep(0.02)
        return {"sum": np.array(batch.sum())}

    batcher = DynamicBatcher(model, max_batch_size=8, max_wait_s=0.05)
    results = _send_all(batcher, [np.array([i, 1]) for i in range(6)])
    batcher.close()
    assert [int(r["sum"]) for r in results] == [i + 1 for i in range(6)]
    assert max(calls) > 2  # a shared call was tried first


def test_a_failing_batcher_fails_its_requests_and_keeps_serving():
    """A failure outside the model call (here, batches that cannot be joined) is answered."""
    model = Model(delay_s=0.02)
    batcher = DynamicBatcher(model, max_batch_size=8, max_wait_s=0.05)
    mixed = [np.array([[1, 2]]), np.array([3])] * 3  # 2-D and 1-D rows cannot be concatenated
    results = _send_all(batcher, mixed)
    assert all(not isinstance(r, Exception) for r in results)  # each ran alone instead
    assert batcher.predict(np.array([5]))["double"].tolist() == [10]
    batcher.close()


def test_a_full_queue_refuses_at_once_and_a_cancelled_request_uses_no_model():
    model, gate, calls = _held_model()
    batcher = DynamicBatcher(model, max_batch_size=2, max_enqueued_batches=1)  # holds 2
    running = batcher.submit(np.array([0]))
    _wait_for_calls(calls, 1)  # the first is in the model, out of the queue
    queued = batcher.submit(np.array([1, 2]))
    with pytest.raises(RequestError) as refused:
        batcher.submit(np.array([3]))
    assert refused.value.status == 429 and "the queue holds 2" in str(refused.value)
    assert queued.cancel()  # its client went away
    gate.set()
    assert running.result(10)["x"].tolist() == [0]
    larger = batcher.submit(np.arange(5))  # larger than the queue: taken when it is empty
    assert larger.result(10)["x"].tolist() == [0, 1, 2, 3, 4]
    batcher.close()
    assert calls == [[0], [0, 1], [2, 3], [4]]  # the cancelled [1, 2] never ran


def test_a_queue_whose_oldest_request_waited_past_the_bound_refuses_until_it_drains():
    """Room is left (the queue holds 32), but time is not: new requests get 429 at once."""
    model, gate, calls = _held_model()
    batcher = DynamicBatcher(model, max_batch_size=4, max_queue_s=1.0)
    running = batcher.submit(np.array([0]))
    _wait_for_calls(calls, 1)  # the first is in the model, out of the queue
    queued = batcher.submit(np.array([1]))
    batcher.admit()  # it has not waited long yet: more are welcome
    time.sleep(1.1)
    for refused_now in (batcher.admit, lambda: batcher.submit(np.array([2]))):
        with pytest.raises(RequestError) as refused:
            refused_now()
        assert refused.value.status == 429 and "--max-queue-ms" in str(refused.value)
        assert "the oldest request for the model has waited" in str(refused.value)
    gate.set()
    assert running.result(10)["x"].tolist() == [0] and queued.result(10)["x"].tolist() == [1]
    assert batcher.submit(np.array([3])).result(10)["x"].tolist() == [3]  # drained: taken again
    batcher.close()
    assert calls == [[0], [1], [3]]


def test_a_queue_that_would_take_too_long_refuses_before_anything_waited():
    """A call takes 60 ms or more: with 3 full batches queued, a request would wait 180 ms."""
    gate = threading.Event()
    calls = []

    def model(batch):
        calls.append(batch.tolist())
        time.sleep(0.06)
        if len(calls) == 2:
            assert gate.wait(10)
        return {"x": batch}

    batcher = DynamicBatcher(model, max_batch_size=2, max_queue_s=0.1)
    assert batcher.predict(np.array([0]))["x"].tolist() == [0]  # the model's speed
    held = batcher.submit(np.array([1]))
    _wait_for_calls(calls, 2)
    one_batch = batcher.submit(np.arange(2))  # one batch always fits
    queued = batcher.submit(np.arange(4))  # 2 full batches ahead: 120 ms > 100
    for refused_now in (batcher.admit, lambda: batcher.submit(np.array([9]))):
        with pytest.raises(RequestError) as refused:
            refused_now()
        assert refused.value.status == 429 and "would wait about" in str(refused.value)
    gate.set()
    assert held.result(10)["x"].tolist() == [1]
    assert one_batch.result(10)["x"].tolist() == [0, 1]
    assert queued.result(10)["x"].tolist() == [0, 1, 2, 3]
    batcher.close()


def test_with_batching_off_the_oldest_requests_wait_bounds_the_queue_and_a_retired_one_admits():
    model, gate, calls = _held_model()
    batcher = DynamicBatcher(model, max_batch_size=1, max_enqueued_batches=64, max_queue_s=0.5)
    running = [batcher.submit(np.array([i])) for i in range(POOL_THREADS)]  # all threads busy
    _wait_for_calls(calls, POOL_THREADS)
    queued = batcher.submit(np.array([POOL_THREADS]))
    time.sleep(0.6)
    with pytest.raises(RequestError) as refused:
        batcher.admit()
    assert "the oldest request for the model has waited" in str(refused.value)
    gate.set()
    answers = [f.result(10)["x"].tolist() for f in [*running, queued]]
    assert answers == [[i] for i in range(POOL_THREADS + 1)]
    batcher.close()
    assert batcher.closed
    batcher.admit()  # a retired version refuses nothing: it runs what still reaches it


def _held_model():
    """(a model whose calls wait for the gate, the gate, the batches it was called with)."""
    gate = threading.Event()
    calls = []

    def model(batch):
        calls.append(batch.tolist())
        assert gate.wait(10)
        return {"x": batch}

    return model, gate, calls


def _wait_for_calls(calls: list, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(calls) < count:
        assert time.monotonic() < deadline, f"{len(calls)} model calls, not {count}"
        time.sleep(0.01)
