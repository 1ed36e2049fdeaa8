"""What `--workers N` serve, resolved once by a child process before any worker starts.

TensorFlow-free, as the supervisor receives it (serving/worker_entry.py).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass


@dataclass(frozen=True)
class WorkerPlan:
    """What the workers serve, resolved once before any of them starts."""

    worker_args: argparse.Namespace  # the models resolved, nothing left to download
    models: list[str]
    port: int
    health_route: str
    predict_route: str
