"""Run a pipeline on the kfp local runner, in this environment (no venv per task)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

from kfp import local


def run_locally(pipeline_func: Callable, arguments: dict, pipeline_root: str | Path) -> dict:
    """Run `pipeline_func(**arguments)` with SubprocessRunner(use_venv=False).

    Raises RuntimeError naming the failed task (its log is printed above it).
    Returns the pipeline's outputs (artifacts with local .path).
    """
    Path(pipeline_root).mkdir(parents=True, exist_ok=True)
    # The components name the Vertex image; locally they run in this environment on purpose.
    warnings.filterwarnings("ignore", message="You may be attemping to run a task that uses custom")
    # Display names are for the Vertex UI; the local runner says it ignores them.
    warnings.filterwarnings("ignore", message=".*have no effect in the current local runner")
    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=str(Path(pipeline_root).resolve()),
        raise_on_error=True,
    )
    return pipeline_func(**arguments).outputs
