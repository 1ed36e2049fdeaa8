"""The emulator's child processes: each in a process group of its own, all stopped on exit.

A step's command is often `sh -ec "... python3 -m kfp.dsl.executor_main"`, and
sh forks python rather than replacing itself, so stopping only the child
would leave the python running. Every process the emulator starts (steps,
custom-job replicas, serving containers) is started here in a new session
and stopped as a group: SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Iterable

STOP_GRACE_S = 10.0

_lock = threading.Lock()
_running: set[subprocess.Popen] = set()


def start(command: list[str], **popen_arguments) -> subprocess.Popen:
    """subprocess.Popen in a new process group, remembered until `stop` or `stop_all`."""
    process = subprocess.Popen(command, start_new_session=True, **popen_arguments)
    with _lock:
        _running.add(process)
    return process


def stop(processes: Iterable[subprocess.Popen]) -> None:
    """Stop each process and everything it started; returns when all have exited."""
    processes = list(processes)
    for process in processes:
        _signal(process, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            _signal(process, signal.SIGKILL)
            process.wait(timeout=STOP_GRACE_S)
        _signal(process, signal.SIGKILL)  # what the group leader left behind
        with _lock:
            _running.discard(process)


def stop_all() -> None:
    """Stop every process still running (the emulator is stopping)."""
    with _lock:
        running = list(_running)
    stop(running)


def _signal(process: subprocess.Popen, number: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone
        os.killpg(process.pid, number)
