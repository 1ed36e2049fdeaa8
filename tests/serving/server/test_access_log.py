"""The access log's lines as Cloud Logging reads them, its sampling and its failures.

Lines go to in-memory streams (io.StringIO, and a subclass that keeps each write call to
check that a line is one write) and to a real pipe whose reader has gone.
"""

import contextlib
import datetime as dt
import io
import json
import logging
import math
import os
import random
import threading

import pytest

from serving.contracts.errors import InputError
from serving.server.access_log import LABELS_FIELD, AccessLog


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_has_the_fields_of_a_structured_cloud_logging_entry():
    stream = io.StringIO()
    logged = AccessLog(1.0, stream).record(
        "POST",
        "/v1/models/digits:predict",
        200,
        0.0123,
        request_size=512,
        response_size=64,
        user_agent="curl/8.5",
        remote_ip="127.0.0.1",
        model="digits",
        version="3",
    )
    assert logged
    [entry] = lines(stream)
    assert entry["severity"] == "INFO"
    assert entry["message"] == "POST /v1/models/digits:predict 200 12.3 ms"
    when = dt.datetime.fromisoformat(entry["time"])
    assert when.utcoffset() == dt.timedelta(0)
    assert abs((dt.datetime.now(dt.UTC) - when).total_seconds()) < 60
    assert entry["httpRequest"] == {
        "requestMethod": "POST",
        "requestUrl": "/v1/models/digits:predict",
        "status": 200,
        "requestSize": "512",
        "responseSize": "64",
        "userAgent": "curl/8.5",
        "remoteIp": "127.0.0.1",
        "latency": "0.012300s",
        "protocol": "HTTP/1.1",
    }
    assert entry[LABELS_FIELD] == {"model": "digits", "version": "3"}


@pytest.mark.parametrize(
    ("status", "severity"), [(204, "INFO"), (302, "INFO"), (404, "WARNING"), (503, "ERROR")]
)
def test_the_severity_follows_the_status(status, severity):
    stream = io.StringIO()
    AccessLog(1.0, stream).record("GET", "/health", status, 0.001)
    [entry] = lines(stream)
    assert entry["severity"] == severity
    assert entry["httpRequest"]["status"] == status


def test_without_a_model_there_are_no_labels_and_unknown_fields_are_left_out():
    stream = io.StringIO()
    AccessLog(1.0, stream).record("GET", "/nowhere", 404, 0.0005, protocol="HTTP/2")
    [entry] = lines(stream)
    assert LABELS_FIELD not in entry
    assert set(entry["httpRequest"]) == {
        "requestMethod",
        "requestUrl",
        "status",
        "latency",
        "protocol",
    }
    assert entry["httpRequest"]["protocol"] == "HTTP/2"


def test_sample_zero_logs_only_server_errors_and_one_logs_everything():
    statuses = [200, 400, 404, 500, 503, 200]
    nothing, everything = io.StringIO(), io.StringIO()
    for status in statuses:
        AccessLog(0.0, nothing).record("GET", "/x", status, 0.001)
        AccessLog(1.0, everything).record("GET", "/x", status, 0.001)
    assert [e["httpRequest"]["status"] for e in lines(nothing)] == [500, 503]
    assert [e["httpRequest"]["status"] for e in lines(everything)] == statuses


def test_a_fraction_is_sampled_by_the_given_rng():
    stream = io.StringIO()
    access = AccessLog(0.25, stream, rng=random.Random(11))
    logged = [access.record("GET", f"/{i}", 200, 0.001) for i in range(400)]
    replay = random.Random(11)
    assert logged == [replay.random() < 0.25 for _ in range(400)]
    assert [e["httpRequest"]["requestUrl"] for e in lines(stream)] == [
        f"/{i}" for i, kept in enumerate(logged) if kept
    ]
    assert 60 < sum(logged) < 140


@pytest.mark.parametrize("sample", [-0.1, 1.5, math.nan, "0.5", True, None])
def test_a_sample_outside_zero_to_one_is_refused(sample):
    with pytest.raises(InputError, match=r"access log sample=.* is not a fraction: give a number"):
        AccessLog(sample, io.StringIO())


class WriteCalls(io.StringIO):
    """A StringIO that keeps each write call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def write(self, text: str) -> int:
        self.calls.append(text)
        return super().write(text)


def test_each_line_is_one_write_even_from_many_threads():
    stream = WriteCalls()
    access = AccessLog(1.0, stream)

    def log_many(thread: int) -> None:
        for i in range(100):
            access.record("GET", f"/{thread}/{i}", 200, 0.001, model="m" * 200)

    threads = [threading.Thread(target=log_many, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(stream.calls) == 800
    assert all(call.endswith("\n") and call.count("\n") == 1 for call in stream.calls)
    assert len({json.loads(call)["message"] for call in stream.calls}) == 800


def test_a_broken_stdout_drops_lines_without_raising(caplog):
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone: writing raises BrokenPipeError
    stream = os.fdopen(write_end, "w")
    access = AccessLog(1.0, stream)
    with caplog.at_level(logging.WARNING, logger="serving.server.access_log"):
        assert access.record("GET", "/health", 200, 0.001) is False
        assert access.record("GET", "/health", 500, 0.001) is False
    warnings = [r.getMessage() for r in caplog.records if r.name == "serving.server.access_log"]
    assert len(warnings) == 1
    assert "Broken pipe" in warnings[0]
    with contextlib.suppress(BrokenPipeError):
        stream.close()  # its buffer cannot be flushed; the pipe is closed all the same


def test_a_closed_stream_drops_lines_without_raising():
    stream = io.StringIO()
    stream.close()
    assert AccessLog(1.0, stream).record("GET", "/health", 503, 0.001) is False
