"""The server's Prometheus metrics, read back from render() as a scraper would parse them.

Metric objects are per process, so each test uses its own model name. The multiprocess
test runs real worker processes that share a PROMETHEUS_MULTIPROC_DIR, and renders in
a third process that recorded nothing itself.
"""

import json
import math
import os
import subprocess
import sys

import pytest
from prometheus_client.parser import text_string_to_metric_families

from serving.server import metrics
from serving.server.registry_watch import RegistryWatch
from tests.conftest import REPO


def samples(body: bytes) -> dict[tuple[str, frozenset], float]:
    """Every sample of a text exposition: (name, labels) -> value."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def value(name: str, **labels: str) -> float | None:
    return samples(metrics.render()[0]).get((name, frozenset(labels.items())))


def test_a_request_is_counted_and_timed_with_its_labels():
    metrics.request_done("m-req", "3", "predict", 200, 0.012)
    metrics.request_done("m-req", "3", "predict", 200, 0.2)
    metrics.request_done("m-req", "3", "predict", 503, 0.001)

    def duration(suffix: str, **extra: str) -> float | None:
        name = f"serving_request_duration_seconds{suffix}"
        return value(name, model="m-req", version="3", route="predict", **extra)

    ok = {"model": "m-req", "version": "3", "route": "predict", "code": "200"}
    assert value("serving_requests_total", **ok) == 2
    assert value("serving_requests_total", **{**ok, "code": "503"}) == 1
    assert duration("_count") == 3
    assert math.isclose(duration("_sum"), 0.213)
    assert duration("_bucket", le="0.001") == 1
    assert duration("_bucket", le="0.025") == 2
    assert duration("_bucket", le="30.0") == 3


def test_an_unknown_route_is_counted_as_other_and_an_unknown_model_as_empty():
    metrics.request_done("", "", "/favicon.ico", 404, 0.001)
    labels = {"model": "", "version": "", "route": "other", "code": "404"}
    assert value("serving_requests_total", **labels) >= 1
    assert value("serving_requests_total", **{**labels, "route": "/favicon.ico"}) is None


def test_batch_sizes_fall_in_power_of_two_buckets():
    metrics.batch_run("m-batch", "1", 3)
    metrics.batch_run("m-batch", "1", 4096)
    labels = {"model": "m-batch", "version": "1"}
    assert value("serving_batch_size_bucket", le="2.0", **labels) == 0
    assert value("serving_batch_size_bucket", le="4.0", **labels) == 1
    assert value("serving_batch_size_bucket", le="4096.0", **labels) == 2
    assert value("serving_batch_size_sum", **labels) == 4099


def test_queue_depth_follows_its_changes():
    metrics.queue_changed("m-queue", "2", 5)
    metrics.queue_changed("m-queue", "2", -3)
    assert value("serving_queue_instances", model="m-queue", version="2") == 2


def test_refusals_are_counted_by_reason_and_an_unknown_reason_is_refused():
    for reason in metrics.REFUSAL_REASONS:
        metrics.refused("m-refused", reason)
    metrics.refused("m-refused", "deadline")
    assert value("serving_refused_total", model="m-refused", reason="deadline") == 2
    assert value("serving_refused_total", model="m-refused", reason="client_gone") == 1
    with pytest.raises(ValueError, match="'tired' is not one of overloaded"):
        metrics.refused("m-refused", "tired")


def test_a_loaded_version_serves_until_it_is_retired():
    metrics.model_loaded("m-load", "1", 2.5)
    metrics.model_loaded("m-load", "2", 1.25)
    metrics.model_retired("m-load", "1")
    assert value("serving_model_load_seconds", model="m-load", version="2") == 1.25
    assert value("serving_model_serving", model="m-load", version="2") == 1
    assert value("serving_model_serving", model="m-load", version="1") == 0


def test_the_registry_watcher_counts_its_polls():
    watch = RegistryWatch("m-watch")
    watch.succeeded()
    assert value("serving_registry_failed_polls_total", model="m-watch") == 0
    watch.failed("aliases.json is corrupt", "version 1 keeps serving")
    watch.failed("aliases.json is corrupt", "version 1 keeps serving")
    assert value("serving_registry_polls_total", model="m-watch") == 3
    assert value("serving_registry_failed_polls_total", model="m-watch") == 2


def test_dropped_request_log_records_are_counted():
    before = value("serving_request_log_dropped_total") or 0
    metrics.request_log_dropped(4)
    assert value("serving_request_log_dropped_total") == before + 4


def test_the_text_format_by_default_and_openmetrics_when_asked():
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain; version=")
    assert b"# TYPE serving_requests_total counter" in body
    body, content_type = metrics.render("application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n")


WORKER = """
import os, sys
from serving.server import metrics
queued, load_seconds = int(sys.argv[1]), float(sys.argv[2])
metrics.request_done("mp", "1", "predict", 200, 0.01)
metrics.queue_changed("mp", "1", queued)
metrics.model_loaded("mp", "1", load_seconds)
print(os.getpid())
"""

RENDERER = """
import json, sys
from serving.server import metrics
first = metrics.render()[0].decode()
metrics.process_exited(int(sys.argv[1]))
print(json.dumps([first, metrics.render()[0].decode()]))
"""


def _python(code: str, *args: str, env: dict) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def test_multiprocess_mode_aggregates_every_workers_values(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    first = _python(WORKER, "3", "1.5", env=env)
    _python(WORKER, "2", "2.5", env=env)
    before, after = json.loads(_python(RENDERER, first, env=env))
    labels = frozenset({"model": "mp", "version": "1"}.items())
    request = frozenset({**dict(labels), "route": "predict", "code": "200"}.items())
    assert samples(before.encode())[("serving_requests_total", request)] == 2
    assert samples(before.encode())[("serving_queue_instances", labels)] == 5
    assert samples(before.encode())[("serving_model_load_seconds", labels)] == 2.5
    assert samples(before.encode())[("serving_model_serving", labels)] == 1
    # The first worker died: its live gauge (its 3 queued instances) goes, its counts stay.
    assert samples(after.encode())[("serving_queue_instances", labels)] == 2
    assert samples(after.encode())[("serving_requests_total", request)] == 2
