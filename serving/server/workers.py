"""--workers N: N server processes on one listening socket, under a supervisor.

Each worker is a fresh interpreter (multiprocessing's spawn: TensorFlow does not
survive a fork) that loads its own copy of the models, batches its own requests and
watches the registry itself, so batching and hot swap are those of one process; after
a new champion is registered the workers switch within one poll of each other. They
accept from the socket the supervisor bound, and the kernel spreads connections over
them. Each worker's TensorFlow gets an equal share of the cores (TF_NUM_INTRAOP_THREADS,
unless it is set), so N workers do not run N times as many threads as there are cores.

The supervisor forwards SIGTERM and SIGINT to the workers, which drain as a single
process does, and kills any still running `drain_s` + GRACE_S later. A worker that
dies is replaced; one that fails before serving (exit status STARTUP_FAILURE: bad
settings, no model it can serve) stops them all, as it would fail the same way again.
/metrics adds up every worker's values (metrics.py, multiprocess mode).
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from pathlib import Path

from serving.server import metrics

STARTUP_FAILURE = 3
GRACE_S = 10.0  # past the drain: uvicorn's own shutdown of connections, and the gRPC stop
RESTART_DELAY_S = 1.0
POLL_S = 0.2
MIN_LIFE_S = 30.0
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")

log = logging.getLogger(__name__)


def available_cores(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """The cores this process may use: its CPU affinity, capped by a cgroup v2 CPU quota
    (what `docker run --cpus` and Kubernetes' CPU limits set), as Go's automaxprocs reads it."""
    cores = len(os.sched_getaffinity(0))
    try:
        quota, period = cpu_max.read_text().split()
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):  # no cgroup v2 here, or not a quota we can read
        pass
    return cores


class Supervisor:
    """Runs `count` processes of `target(*args)` until SIGTERM or SIGINT, replacing the dead."""

    def __init__(
        self, count: int, target: Callable[..., None], args: tuple, drain_s: float
    ) -> None:
        self.count, self.target, self.args, self.drain_s = count, target, args, drain_s
        self._context = multiprocessing.get_context("spawn")
        self._stop_signal: int | None = None
        self._started: dict[int, float] = {}  # pid -> time.monotonic() at its start

    def run(self) -> int:
        """Serve until stopped: 0 after a signal, 1 when a worker could not start."""
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        directory, owned = _metrics_directory()
        threads = os.environ.get("TF_NUM_INTRAOP_THREADS")
        os.environ.setdefault(
            "TF_NUM_INTRAOP_THREADS", str(max(1, available_cores() // self.count))
        )
        try:
            workers = [self._start() for _ in range(self.count)]
            status = self._watch(workers)
            self._stop(workers)
            return status
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if threads is None:
                os.environ.pop("TF_NUM_INTRAOP_THREADS", None)
            if owned:
                os.environ.pop(metrics.MULTIPROC_VARIABLE, None)
                shutil.rmtree(directory, ignore_errors=True)

    def _on_signal(self, sig: int, frame: object) -> None:
        self._stop_signal = sig

    def _start(self) -> BaseProcess:
        process = self._context.Process(target=self.target, args=self.args, name="serving-worker")
        process.start()
        self._started[process.pid] = time.monotonic()
        log.info("Started worker %d", process.pid)
        return process

    def _watch(self, workers: list[BaseProcess]) -> int:
        """Replace workers that die, until a signal (0) or a worker that cannot start (1)."""
        while self._stop_signal is None:
            for index, process in enumerate(workers):
                if process.is_alive():
                    continue
                metrics.process_exited(process.pid)
                lived = time.monotonic() - self._started.pop(process.pid)
                if process.exitcode == STARTUP_FAILURE or lived < MIN_LIFE_S:
                    log.error(
                        "Worker %d could not start (exit status %s after %.0f s); stopping",
                        process.pid,
                        process.exitcode,
                        lived,
                    )
                    return 1
                log.warning(
                    "Worker %d died (exit status %s); starting another",
                    process.pid,
                    process.exitcode,
                )
                time.sleep(RESTART_DELAY_S)
                workers[index] = self._start()
            time.sleep(POLL_S)
        return 0

    def _stop(self, workers: list[BaseProcess]) -> None:
        """SIGTERM each live worker (they drain); kill those still alive after the grace."""
        for process in workers:
            if process.is_alive():
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.drain_s + GRACE_S
        for process in workers:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.warning("Worker %d still running after the drain; killing it", process.pid)
                process.kill()
                process.join(5)
            metrics.process_exited(process.pid)


def _metrics_directory() -> tuple[str, bool]:
    """The multiprocess metrics directory: the user's, or a new one (owned: to remove)."""
    directory = os.environ.get(metrics.MULTIPROC_VARIABLE, "").strip()
    if directory:
        os.makedirs(directory, exist_ok=True)
        return directory, False
    directory = tempfile.mkdtemp(prefix="serving-metrics-")
    os.environ[metrics.MULTIPROC_VARIABLE] = directory
    return directory, True
