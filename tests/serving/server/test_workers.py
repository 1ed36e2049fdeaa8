"""`python -m serving --workers 2`: two real processes on one port, under the supervisor;
and the supervisor itself, on a worker that cannot start."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from serving.__main__ import default_workers, parser
from serving.server.workers import STARTUP_FAILURE, Supervisor, available_cores
from tests.serving.conftest import call, serving_process, wait_ready


def _workers(pid: int) -> set[int]:
    """The spawned worker processes of `pid` (not multiprocessing's resource tracker)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.add(int(child))
    return found


def test_two_workers_serve_swap_sum_their_metrics_and_drain_on_sigterm(registry, scaler_exports):
    args = ["--registry", str(registry.root), "--workers", "2", "--grpc-port", "0"]
    with serving_process([*args, "--poll-seconds", "0.2"]) as (base, process):
        wait_ready(base, timeout_s=120)
        before = _predicts(base)
        for _ in range(10):  # new connections: the kernel spreads them over the workers
            assert _total(base) == 12.0  # champion 2
        assert _predicts(base) - before == 10  # summed over both workers' counts
        registry.register("scaler", scaler_exports[2])  # version 3: the new champion
        _wait_for_total(base, 18.0, timeout_s=30)
        # Then both: 20 answers in a row from version 3, over new connections (each worker
        # swaps at its own poll, later on a loaded machine).
        deadline, in_a_row = time.monotonic() + 30, 0
        while in_a_row < 20:
            assert time.monotonic() < deadline, "a worker kept serving version 2 for 30 s"
            in_a_row = in_a_row + 1 if _total(base) == 18.0 else 0
        workers = _workers(process.pid)
        assert len(workers) == 2
        assert "tensorflow" not in _mapped_files(process.pid)  # the supervisor never loads it
        assert all("tensorflow" in _mapped_files(pid) for pid in workers)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]


def test_a_worker_that_cannot_start_stops_the_supervisor():
    """Both workers exit STARTUP_FAILURE: run() answers 1 at once rather than restarting."""
    started = time.monotonic()
    assert Supervisor(2, sys.exit, (STARTUP_FAILURE,), drain_s=1.0).run() == 1
    assert time.monotonic() - started < 30


def test_bad_settings_for_workers_are_one_clear_line_from_the_child_that_checked_them(tmp_path):
    missing = tmp_path / "no-registry"
    run = subprocess.run(
        [sys.executable, "-m", "serving", "--workers", "2", "--registry", str(missing)],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert run.returncode != 0 and "Traceback" not in run.stderr, run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("python -m serving: error:") and str(missing) in last, run.stderr
    assert not missing.exists()  # nothing created where it was pointed


def test_the_default_is_web_concurrency_else_one_worker_per_core(monkeypatch, tmp_path):
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    assert parser().parse_args([]).workers is None and default_workers() == 3
    for bad in ("0", "many", "2.5"):
        monkeypatch.setenv("WEB_CONCURRENCY", bad)
        assert parser().parse_args(["--workers", "2"]).workers == 2  # the flag wins
        with pytest.raises(SystemExit) as stopped:
            default_workers()
        assert str(stopped.value).startswith(f"python -m serving: error: $WEB_CONCURRENCY='{bad}'")
    monkeypatch.delenv("WEB_CONCURRENCY")
    assert default_workers() == available_cores()
    affinity = len(os.sched_getaffinity(0))
    cpu_max = tmp_path / "cpu.max"
    for text, cores in [
        ("max 100000", affinity),  # no quota
        ("50000 100000", 1),  # half a core: one worker
        (f"{affinity * 100000 + 1} 100000", affinity),  # never more than the affinity
        ("not a quota", affinity),
    ]:
        cpu_max.write_text(text)
        assert available_cores(cpu_max) == cores, text
    if affinity > 1:
        cpu_max.write_text("150000 100000")  # 1.5 cores: two workers
        assert available_cores(cpu_max) == 2


def _mapped_files(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


def _total(base: str) -> float:
    status, body = call(base, "/v1/models/scaler:predict", {"instances": [[1, 2, 3]]})
    assert status == 200, body
    return body["predictions"][0]["total"]


def _wait_for_total(base: str, total: float, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while _total(base) != total:
        assert time.monotonic() < deadline, f"no worker answered {total} within {timeout_s} s"
        time.sleep(0.05)


def _predicts(base: str) -> float:
    import urllib.request

    text = urllib.request.urlopen(f"{base}/metrics", timeout=10).read().decode()
    counts = re.findall(
        r'serving_requests_total\{code="200",model="scaler",route="predict"[^}]*\} (\S+)', text
    )
    return sum(float(count) for count in counts)
