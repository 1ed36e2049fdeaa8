"""The prediction server's Prometheus metrics, and their text for GET /metrics.

The metric objects are module-level, as prometheus_client intends: each exists once per
process, and the functions below are the only writers, so label names and values stay
consistent. Label values: `model` and `version` are "" when not known (a request for a
path that names no model); `route` is one of ROUTES (anything else is counted as
"other", which keeps the number of series bounded); `reason` is one of REFUSAL_REASONS.

Multiprocess mode (several uvicorn workers): set PROMETHEUS_MULTIPROC_DIR to an empty
directory before any worker imports prometheus_client, as prometheus_client decides
then where values live (in memory, or in files there). `render()` then aggregates every
worker's files. Counters and histograms are summed; a gauge has its multiprocess_mode:
queue depth is summed over live workers, whether a version serves is the maximum over
live workers, and a load time is the most recent one written. "Live" gauges of a worker
that died stay until the supervisor calls `process_exited(pid)`.
"""

from __future__ import annotations

import os

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
PREFIX = "serving_"
ROUTES = ("predict", "metadata", "status", "health", "metrics", "other")
REFUSAL_REASONS = (
    "overloaded",
    "queue_full",
    "queue_delay",
    "deadline",
    "draining",
    "client_gone",
)
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
BATCH_BUCKETS = tuple(float(2**power) for power in range(13))  # 1, 2, 4, ..., 4096

REQUESTS = Counter(
    PREFIX + "requests_total",
    "Requests answered, by model, version, route and HTTP status code.",
    ["model", "version", "route", "code"],
)
REQUEST_DURATION = Histogram(
    PREFIX + "request_duration_seconds",
    "Time from a request's arrival to its answer, in seconds.",
    ["model", "version", "route"],
    buckets=DURATION_BUCKETS,
)
BATCH_SIZE = Histogram(
    PREFIX + "batch_size",
    "Instances in each call of a model (a batch of one or more requests).",
    ["model", "version"],
    buckets=BATCH_BUCKETS,
)
QUEUE_INSTANCES = Gauge(
    PREFIX + "queue_instances",
    "Instances waiting in the batch queue.",
    ["model", "version"],
    multiprocess_mode="livesum",
)
REFUSED = Counter(
    PREFIX + "refused_total",
    "Requests refused without a prediction, by reason.",
    ["model", "reason"],
)
MODEL_LOAD_SECONDS = Gauge(
    PREFIX + "model_load_seconds",
    "Seconds the last load of this version took.",
    ["model", "version"],
    multiprocess_mode="mostrecent",
)
MODEL_SERVING = Gauge(
    PREFIX + "model_serving",
    "1 while this version takes traffic, 0 after it is retired.",
    ["model", "version"],
    multiprocess_mode="livemax",
)
REGISTRY_POLLS = Counter(
    PREFIX + "registry_polls_total",
    "Polls of the model registry.",
    ["model"],
)
REGISTRY_FAILED_POLLS = Counter(
    PREFIX + "registry_failed_polls_total",
    "Polls of the model registry that could not use it (the last good versions kept serving).",
    ["model"],
)
REQUEST_LOG_DROPPED = Counter(
    PREFIX + "request_log_dropped_total",
    "Request-response log records dropped (queue full, or a write that failed).",
)


def request_done(model: str, version: str, route: str, code: int, seconds: float) -> None:
    """Count an answered request and observe its duration."""
    route = route if route in ROUTES else "other"
    REQUESTS.labels(model, str(version), route, str(code)).inc()
    REQUEST_DURATION.labels(model, str(version), route).observe(seconds)


def batch_run(model: str, version: str, size: int) -> None:
    """Observe one model call on `size` instances."""
    BATCH_SIZE.labels(model, str(version)).observe(size)


def queue_changed(model: str, version: str, delta: int) -> None:
    """Instances joined (delta > 0) or left (delta < 0) the batch queue."""
    QUEUE_INSTANCES.labels(model, str(version)).inc(delta)


def refused(model: str, reason: str) -> None:
    """Count a refused request; `reason` must be one of REFUSAL_REASONS."""
    if reason not in REFUSAL_REASONS:
        raise ValueError(f"Refusal reason {reason!r} is not one of {', '.join(REFUSAL_REASONS)}.")
    REFUSED.labels(model, reason).inc()


def model_loaded(model: str, version: str, seconds: float) -> None:
    """A version was loaded in `seconds` and now takes traffic."""
    MODEL_LOAD_SECONDS.labels(model, str(version)).set(seconds)
    MODEL_SERVING.labels(model, str(version)).set(1)


def model_retired(model: str, version: str) -> None:
    """A version no longer takes traffic."""
    MODEL_SERVING.labels(model, str(version)).set(0)


def registry_polled(model: str, ok: bool) -> None:
    """Count a registry poll, and a failed one unless `ok` (both series exist from the first)."""
    REGISTRY_POLLS.labels(model).inc()
    failed = REGISTRY_FAILED_POLLS.labels(model)
    if not ok:
        failed.inc()


def request_log_dropped(count: int = 1) -> None:
    """Count request-response log records that were dropped."""
    REQUEST_LOG_DROPPED.inc(count)


def process_exited(pid: int) -> None:
    """Remove a dead worker's live gauges (multiprocess mode; nothing to do otherwise)."""
    directory = os.environ.get(MULTIPROC_VARIABLE)
    if directory:
        mark_process_dead(pid, directory)


def render(accept: str = "") -> tuple[bytes, str]:
    """The metrics as (body, content type): every worker's in multiprocess mode, else this
    process's. `accept` is the scraper's Accept header; OpenMetrics is given if it asks."""
    if os.environ.get(MULTIPROC_VARIABLE):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    encode, content_type = choose_encoder(accept)
    return encode(registry), content_type
