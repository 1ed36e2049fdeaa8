"""The HTTP server against hostile and broken clients, over raw sockets on 127.0.0.1.

Each case sends what a careless or hostile client sends (smuggling framing,
endless headers, slow or short bodies, deep JSON, NaN literals, bad UTF-8,
names that try to leave the registry) and checks the answer is a JSON error
of the right status, and that the server answers a good request right after.
One server (uvicorn on a real socket, the real scaler SavedModels) serves the
module, with a short request deadline so a short body times out quickly.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from urllib.parse import urlparse

import pytest

from serving.server.http_protocol import MAX_HEAD_BYTES
from tests.serving.conftest import call, running_server, scaler_server, wait_ready

ROW = [1.0, 2.0, 3.0]
GOOD = json.dumps({"instances": [ROW]}).encode()
DEADLINE_S = 1.0


@pytest.fixture(scope="module")
def base(tmp_path_factory, scaler_exports):
    from serving.registry.local_registry import LocalModelRegistry

    registry = LocalModelRegistry(tmp_path_factory.mktemp("hardening") / "registry")
    registry.register("scaler", scaler_exports[0])
    server = scaler_server(registry, max_body_bytes=100_000)
    with running_server(server, request_timeout_s=DEADLINE_S) as url:
        wait_ready(url)
        yield url


def _connect(base: str) -> socket.socket:
    url = urlparse(base)
    return socket.create_connection((url.hostname, url.port), timeout=10)


def _exchange(base: str, raw: bytes, wait_s: float = 10) -> bytes:
    """Send `raw`, then read until the server closes or `wait_s` of silence."""
    with _connect(base) as sock:
        sock.sendall(raw)
        sock.settimeout(wait_s)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pass
        return b"".join(chunks)


def _responses(data: bytes) -> list[tuple[int, dict]]:
    """(status, JSON body) of each response in `data` (Content-Length framed)."""
    found = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:])
        length = int(headers["content-length"])
        found.append((int(lines[0].split()[1]), json.loads(rest[:length])))
        data = rest[length:]
    return found


def _post(path: str, body: bytes, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: x", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _still_up(base: str) -> None:
    assert call(base, "/v1/models/scaler:predict", {"instances": [ROW]}) == (
        200,
        {"predictions": [{"forecast": [6.0], "total": 6.0}]},
    )


@pytest.mark.parametrize(
    ("raw", "status", "words"),
    [
        (  # two different lengths: which one frames the body?
            _post("/predict", GOOD, "Content-Length: 10", f"Content-Length: {len(GOOD)}"),
            400,
            "Invalid HTTP request",
        ),
        (  # Transfer-Encoding with Content-Length hides a second request in the body
            _post(
                "/predict",
                b"0\r\n\r\nGET /v1/models/scaler HTTP/1.1\r\nHost: x\r\n\r\n",
                "Content-Length: 4",
                "Transfer-Encoding: chunked",
            ),
            400,
            "Invalid HTTP request",
        ),
        (b"GARBAGE\r\n\r\n", 400, "Invalid HTTP request"),
        (b"BREW /predict HTTP/1.1\r\nHost: x\r\n\r\n", 400, "Invalid HTTP request"),
        (_post("/predict", b"", "Content-Length: -5"), 400, "Invalid HTTP request"),
        (_post("/predict", b"", "Content-Length: ten"), 400, "Invalid HTTP request"),
        (
            b"GET /health HTTP/1.1\r\nX-Pad: " + b"a" * (MAX_HEAD_BYTES + 10) + b"\r\n\r\n",
            431,
            "request line and headers pass",
        ),
    ],
    ids=["two-lengths", "te-and-cl", "request-line", "method", "negative", "non-numeric", "head"],
)
def test_malformed_framing_is_a_json_error_and_closes_only_that_connection(
    base, raw, status, words
):
    answers = _responses(_exchange(base, raw))
    assert len(answers) == 1, answers  # no hidden second request ran
    assert answers[0][0] == status and words in answers[0][1]["error"]
    _still_up(base)


def test_a_body_shorter_than_its_length_gets_408_naming_what_arrived(base):
    started = time.monotonic()
    answers = _responses(_exchange(base, _post("/predict", b"x" * 20, "Content-Length: 100")))
    assert answers == [
        (
            408,
            {
                "error": "The body ended after 20 of 100 bytes: it did not arrive before the "
                "request's deadline (--request-timeout-ms)."
            },
        )
    ]
    assert time.monotonic() - started < DEADLINE_S + 5  # at the deadline, not 60 s later
    _still_up(base)


def test_slow_clients_a_byte_at_a_time_are_answered_and_hold_no_one_up(base):
    raw = _post("/v1/models/scaler:predict", GOOD, f"Content-Length: {len(GOOD)}")
    with _connect(base) as slow:
        for byte in raw[: len(raw) // 2]:  # headers and half the body, a byte at a time
            slow.send(bytes([byte]))
        _still_up(base)  # others are served meanwhile
        slow.sendall(raw[len(raw) // 2 :])
        slow.settimeout(10)
        assert slow.recv(65536).startswith(b"HTTP/1.1 200")


def test_chunked_bodies_http_1_0_and_pipelined_requests_are_served(base):
    chunked = _post("/v1/models/scaler:predict", b"", "Transfer-Encoding: chunked")
    body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(GOOD), GOOD)
    assert _responses(_exchange(base, chunked + body, wait_s=2))[0][0] == 200
    old = f"POST /v1/models/scaler:predict HTTP/1.0\r\nContent-Length: {len(GOOD)}\r\n\r\n"
    assert _responses(_exchange(base, old.encode() + GOOD))[0][0] == 200  # closed after it
    one = _post("/v1/models/scaler:predict", GOOD, f"Content-Length: {len(GOOD)}")
    health = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    answers = _responses(_exchange(base, one + health + one, wait_s=2))
    assert [status for status, _ in answers] == [200, 200, 200]
    assert answers[1][1]["status"] == "ready"  # in order


def test_hundreds_of_idle_connections_do_not_stop_a_good_request(base):
    idle = [_connect(base) for _ in range(300)]
    try:
        _still_up(base)
    finally:
        for sock in idle:
            sock.close()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"instances": ' + b"[" * 40_000 + b"]" * 40_000 + b"}", "nests"),
        (b'{"instances": [' + b"[" * 900 + b"1" + b"]" * 900 + b"]}", "nest"),
        (b'{"instances": [[NaN, 1, 2]]}', "NaN is not a JSON value"),
        (b'{"instances": [[Infinity, 1, 2]]}', "Infinity is not a JSON value"),
        (b'{"instances": ["\xff\xfe"]}', "not valid JSON"),
    ],
    ids=["deep", "deep-for-the-model", "nan", "infinity", "utf-8"],
)
def test_bodies_no_parser_should_take_are_400(base, body, words):
    status, answer = call(base, "/v1/models/scaler:predict", raw=body)
    assert status == 400 and words in answer["error"], answer
    _still_up(base)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/models/..:predict",
        "/v1/models/..%2F..%2Fscaler:predict",
        "/v1/models/scaler/labels/..%2Fchampion:predict",
        "/v1/models/%2E%2E/metadata",
    ],
)
def test_names_that_try_to_leave_the_registry_are_not_found(base, path):
    status, answer = call(base, path, {"instances": [ROW]} if "predict" in path else None)
    assert status in (404, 405) and "error" in answer
    _still_up(base)


def test_an_oversized_body_from_urllib_reads_the_413_not_a_reset(base):
    """urllib sends the whole body before it reads; the server drains it, then answers."""
    body = json.dumps({"instances": [ROW] * 200_000}).encode()  # about 3 MB, limit 100 kB
    request = urllib.request.Request(base + "/predict", data=body, method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 413
    assert "limit is 100000 (--max-body-bytes)" in json.loads(refused.value.read())["error"]
    _still_up(base)


def test_metrics_count_requests_by_model_version_and_code(base):
    _still_up(base)
    with urllib.request.urlopen(base + "/metrics", timeout=10) as response:
        text = response.read().decode()
    assert response.headers["Content-Type"].startswith("text/plain")
    line = next(
        line
        for line in text.splitlines()
        if line.startswith("serving_requests_total{")
        and 'model="scaler"' in line
        and 'code="200"' in line
        and 'route="predict"' in line
    )
    assert 'version="1"' in line and float(line.rsplit(" ", 1)[1]) >= 1
    assert "serving_batch_size_bucket" in text and "serving_queue_instances" in text


def test_too_many_instances_and_too_large_an_answer_are_413(tmp_path, scaler_exports):
    from serving.registry.local_registry import LocalModelRegistry
    from serving.server.request_limits import RequestLimits

    registry = LocalModelRegistry(tmp_path / "registry")
    registry.register("scaler", scaler_exports[0])
    limits = RequestLimits(max_instances=100, max_response_bytes=2000)
    with running_server(scaler_server(registry, limits=limits)) as url:
        wait_ready(url)
        status, body = call(url, "/v1/models/scaler:predict", {"instances": [ROW] * 101})
        assert (
            status == 413 and "101 instances; the limit is 100 (--max-instances)" in body["error"]
        )
        status, body = call(url, "/v1/models/scaler:predict", {"instances": [ROW] * 100})
        assert status == 413 and "the limit is 2000 (--max-response-bytes)" in body["error"]
        assert call(url, "/v1/models/scaler:predict", {"instances": [ROW] * 10})[0] == 200
