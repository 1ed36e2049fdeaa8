"""The server's access log: one JSON object a line, as Cloud Logging reads structured logs.

A container's stdout line that is a JSON object becomes a structured entry: `severity`,
`message` and `time` are read as in serving/contracts/logs.py (the same field names and
time format), `httpRequest` fills the entry's HttpRequest (so the Logs Explorer shows
method, status, latency and sizes, and can filter on them), and
`logging.googleapis.com/labels` its labels (here model and version, when known). Sizes
are strings and latency a "<seconds>s" string, as the HttpRequest JSON has them.

Logging every request of a busy server costs more than it tells, so `sample` is the
fraction logged; answers with a 5xx status are always logged. A line is one write
under a lock, so lines of concurrent requests never interleave; a write that fails
(a closed or broken stdout) drops the line and never reaches the request.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import random
import sys
import threading
from typing import TextIO

from serving.contracts.errors import InputError

log = logging.getLogger(__name__)

LOGGER_NAME = "serving.access"
LABELS_FIELD = "logging.googleapis.com/labels"


def check_sample(name: str, sample: object) -> float:
    """`sample` as a float, or an InputError naming `name` unless it is in [0, 1]."""
    if (
        isinstance(sample, bool)
        or not isinstance(sample, int | float)
        or math.isnan(sample)
        or not 0 <= sample <= 1
    ):
        raise InputError(
            f"{name}={sample!r} is not a fraction: give a number from 0 (log nothing) "
            "to 1 (log every request)."
        )
    return float(sample)


def severity(status: int) -> str:
    """INFO for a success or redirect, WARNING for a 4xx answer, ERROR for a 5xx one."""
    if status >= 500:
        return "ERROR"
    return "WARNING" if status >= 400 else "INFO"


class AccessLog:
    """Writes sampled access log lines to `stream`; `rng` decides the sample (seed it in tests)."""

    def __init__(
        self, sample: float, stream: TextIO = sys.stdout, rng: random.Random | None = None
    ) -> None:
        self.sample = check_sample("access log sample", sample)
        self.stream = stream
        self.rng = rng or random.Random()
        self._lock = threading.Lock()
        self._write_failed = False

    def record(self, method: str, url: str, status: int, seconds: float, **fields: object) -> bool:
        """Log one answered request unless the sample leaves it out; True if it was written.

        `fields` are entry()'s keywords (sizes, user agent, remote IP, protocol, model, version).
        """
        try:
            if status < 500 and not self.rng.random() < self.sample:
                return False
            line = json.dumps(entry(method, url, status, seconds, **fields), ensure_ascii=False)
            with self._lock:
                self.stream.write(line + "\n")
                self.stream.flush()
            return True
        except Exception as exc:  # never into the request: the line is dropped
            if not self._write_failed:
                self._write_failed = True
                log.warning("Access log lines are dropped: writing one failed (%s)", exc)
            return False


def entry(
    method: str,
    url: str,
    status: int,
    seconds: float,
    *,
    request_size: int | None = None,
    response_size: int | None = None,
    user_agent: str = "",
    remote_ip: str = "",
    protocol: str = "HTTP/1.1",
    model: str = "",
    version: str = "",
) -> dict:
    """The structured log entry of one request (a dict ready for json.dumps)."""
    http_request = {
        "requestMethod": method,
        "requestUrl": url,
        "status": int(status),
        "latency": f"{seconds:.6f}s",
        "protocol": protocol,
    }
    if request_size is not None:
        http_request["requestSize"] = str(int(request_size))
    if response_size is not None:
        http_request["responseSize"] = str(int(response_size))
    if user_agent:
        http_request["userAgent"] = user_agent
    if remote_ip:
        http_request["remoteIp"] = remote_ip
    result = {
        "severity": severity(status),
        "message": f"{method} {url} {status} {seconds * 1000:.1f} ms",
        "time": dt.datetime.now(dt.UTC).isoformat(),
        "logger": LOGGER_NAME,
        "httpRequest": http_request,
    }
    labels = {key: str(value) for key, value in (("model", model), ("version", version)) if value}
    if labels:
        result[LABELS_FIELD] = labels
    return result
