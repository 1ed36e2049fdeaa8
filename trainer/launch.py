"""Run a training job as N worker processes on this machine, as Vertex AI runs N replicas.

    python -m trainer.launch --workers 2 -- text --dataset-dir DIR --model-dir DIR

Each worker runs `python -m trainer.task <args>` (or `--module`) with a
TF_CONFIG that lists every worker on a 127.0.0.1 port and gives it its index,
so `trainer.distribution.strategy` trains it under MultiWorkerMirroredStrategy; worker 0
is the chief. Output is streamed with a `[worker i]` prefix. When a worker
fails or is killed, the others are stopped at once (a MultiWorkerMirrored
job cannot go on without it) and the launcher exits with an error naming
the worker; rerunning the same command resumes from the last backup when
the job has a checkpoint directory.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import TextIO

PROG = "trainer.launch"
HOST = "127.0.0.1"
STOP_GRACE_S = 10.0
POLL_S = 0.2


class LaunchError(Exception):
    """A launch that could not start, or a worker that failed; the message says which."""


def free_ports(count: int) -> list[int]:
    """`count` distinct ports on 127.0.0.1 that were free a moment ago."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind((HOST, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def check_ports_free(ports: Sequence[int]) -> None:
    """Raise LaunchError naming the first of `ports` something else already listens on."""
    for port in ports:
        with socket.socket() as sock:
            try:
                sock.bind((HOST, port))
            except OSError as exc:
                raise LaunchError(
                    f"port {port} on {HOST} is taken ({exc.strerror}): pass other --ports, "
                    "or leave --ports out to pick free ones."
                ) from None


def tf_config(ports: Sequence[int], index: int) -> str:
    """TF_CONFIG for worker `index` of a cluster on `ports` (worker 0 is the chief)."""
    cluster = {"worker": [f"{HOST}:{port}" for port in ports]}
    return json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})


def launch(
    workers: int,
    args: Sequence[str],
    module: str = "trainer.task",
    ports: Sequence[int] | None = None,
    timeout_s: float | None = None,
    output: TextIO | None = None,
) -> None:
    """Run `python -m module args` as `workers` processes; raise LaunchError if any fails."""
    if workers < 1:
        raise LaunchError(f"--workers must be at least 1, got {workers}.")
    if ports is None:
        ports = free_ports(workers)
    elif len(ports) != workers:
        raise LaunchError(f"--ports lists {len(ports)} ports for {workers} workers.")
    check_ports_free(ports)
    out = output or sys.stdout
    lock = threading.Lock()
    taken: dict[int, bool] = {}
    processes: list[subprocess.Popen] = []
    readers: list[threading.Thread] = []
    try:
        for index in range(workers):
            env = {**os.environ, "TF_CONFIG": tf_config(ports, index), "PYTHONUNBUFFERED": "1"}
            process = subprocess.Popen(
                [sys.executable, "-m", module, *args],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
            )
            processes.append(process)
            _write(out, lock, f"[{PROG}] worker {index}: pid {process.pid}, {HOST}:{ports[index]}")
            reader = threading.Thread(
                target=_stream, args=(process, index, out, lock, taken), daemon=True
            )
            reader.start()
            readers.append(reader)
        _wait(processes, ports, taken, timeout_s)
    finally:
        _stop(processes)
        for reader in readers:
            reader.join(timeout=5)
    _write(out, lock, f"[{PROG}] all {workers} workers finished")


def _wait(
    processes: list[subprocess.Popen],
    ports: Sequence[int],
    taken: dict[int, bool],
    timeout_s: float | None,
) -> None:
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        codes = [process.poll() for process in processes]
        for index, code in enumerate(codes):
            if code not in (None, 0):
                raise LaunchError(_failure(index, processes[index].pid, code, ports, taken))
        if all(code == 0 for code in codes):
            return
        if deadline is not None and time.monotonic() > deadline:
            raise LaunchError(f"the workers did not finish within {timeout_s:g} s; stopped them.")
        time.sleep(POLL_S)


def _failure(index: int, pid: int, code: int, ports: Sequence[int], taken: dict[int, bool]) -> str:
    how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
    message = f"worker {index} (pid {pid}) {how}; stopped the other workers."
    if taken.get(index):
        message += f" Its port {ports[index]} was taken: rerun to pick free ports."
    elif code < 0:
        message += " Rerun the same command to resume from the last backup (--checkpoint-dir)."
    return message


def _stream(
    process: subprocess.Popen, index: int, out: TextIO, lock: threading.Lock, taken: dict
) -> None:
    """Copy a worker's output line by line with its prefix; note a port already in use."""
    for line in process.stdout:
        if "address already in use" in line.lower():
            taken[index] = True
        _write(out, lock, f"[worker {index}] {line.rstrip()}")


def _write(out: TextIO, lock: threading.Lock, line: str) -> None:
    with lock:
        out.write(line + "\n")
        out.flush()


def _stop(processes: list[subprocess.Popen]) -> None:
    """SIGTERM the workers still running, then SIGKILL those that outlive the grace period."""
    running = [p for p in processes if p.poll() is None]
    for process in running:
        process.terminate()
    deadline = time.monotonic() + STOP_GRACE_S
    for process in running:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, required=True, help="worker processes to start")
    parser.add_argument(
        "--module", default="trainer.task", help="the module each worker runs (%(default)s)"
    )
    parser.add_argument(
        "--ports", help="comma-separated ports on 127.0.0.1, one per worker (default: free ones)"
    )
    parser.add_argument("--timeout", type=float, help="stop the workers after this many seconds")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="-- then the worker's arguments")
    options = parser.parse_args(argv)
    args = options.args[1:] if options.args[:1] == ["--"] else options.args
    try:
        ports = [int(p) for p in options.ports.split(",")] if options.ports else None
    except ValueError:
        parser.error(f"--ports {options.ports!r} is not a comma-separated list of numbers")
    signal.signal(signal.SIGTERM, _interrupt)  # stop the workers on SIGTERM too
    try:
        launch(options.workers, args, options.module, ports, options.timeout)
    except LaunchError as exc:
        raise SystemExit(f"{PROG}: error: {exc}") from None
    except KeyboardInterrupt:
        raise SystemExit(f"{PROG}: interrupted; stopped the workers.") from None


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    main(sys.argv[1:])
