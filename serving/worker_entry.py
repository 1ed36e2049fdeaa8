"""What the supervisor of `--workers N` hands to its child processes, without TensorFlow.

The supervisor only binds the sockets and watches its workers, so it never imports
TensorFlow (about 700 MiB of memory per process that does). Yet multiprocessing's
spawn names a child's function by module, and the parent must import that module:
these two functions are the TensorFlow-free names, and import the serving stack
(serving/worker_process.py) in the child only.
"""

from __future__ import annotations

import argparse
import socket
from pathlib import Path

from serving.contracts.logs import setup_logging
from serving.worker_plan import WorkerPlan


def plan_workers(args: argparse.Namespace, scratch: Path) -> WorkerPlan:
    """Check the settings and resolve the models (in a child process); InputError if bad."""
    from serving.worker_process import plan

    setup_logging(timestamps=True)  # a spawned child starts with logging as Python sets it
    return plan(args, scratch)


def run_worker(args: argparse.Namespace, sock: socket.socket, grpc_port: int) -> None:
    from serving.worker_process import run_worker as run

    run(args, sock, grpc_port)
