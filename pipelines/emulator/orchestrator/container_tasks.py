"""A task's container command as a local process in this Python environment.

There is no container engine here: the pipeline image's steps and GCPC's
launchers alike run in the emulator's environment, with its interpreter for
`python3`. Images are not reproduced, and each image that is neither the
pipeline image nor GCPC's is named once per run, since its contents may differ.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path

from components.container_images import PIPELINE_IMAGE
from pipelines.emulator import processes
from pipelines.emulator.orchestrator.kfp_runtime import LOG_TAIL_LINES, StepOutcome

GCPC_IMAGE_PREFIX = "gcr.io/ml-pipeline/google-cloud-pipeline-components:"


class StepProcesses:
    """Runs task commands one process each; their output goes to `log_dir`/<task>.log
    (or, without a log_dir, to stdout line by line)."""

    def __init__(
        self,
        environment: Mapping[str, str],
        before_step: Callable[[], None],
        after_step: Callable[[], None],
        on_event: Callable[[str], None],
        log_dir: Path | None = None,
    ):
        self._log_dir = log_dir
        self._environment = dict(environment)
        self._before, self._after, self._on_event = before_step, after_step, on_event
        self._named_images: set[str] = set()

    def run(self, task: str, image: str, command: list[str], env: dict[str, str]) -> StepOutcome:
        """Runs `command` with the step environment plus the container's own `env`."""
        self._name_foreign_image(task, image)
        tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)
        log = self._open_log(task)
        self._before()
        try:
            with (
                log as out,
                processes.start(
                    local_command(command),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    text=True,
                    errors="replace",
                    bufsize=1,
                    env={**os.environ, **self._environment, **env},
                ) as process,
            ):
                for line in process.stdout:
                    tail.append(line.rstrip("\n"))
                    out.write(line if self._log_dir else f"{task} | {line}")
                    out.flush()
                returncode = process.wait()
                processes.stop([process])  # anything the step left running in its group
        except OSError as error:  # the command does not exist here
            tail.append(f"{command[0]}: {error}")
            returncode = 127
        finally:
            self._after()
        return StepOutcome(returncode, "\n".join(tail))

    def _open_log(self, task: str):
        if self._log_dir is None:
            return contextlib.nullcontext(sys.stdout)
        self._log_dir.mkdir(parents=True, exist_ok=True)
        return (self._log_dir / f"{task}.log").open("a")

    def _name_foreign_image(self, task: str, image: str) -> None:
        if image == PIPELINE_IMAGE or image.startswith(GCPC_IMAGE_PREFIX):
            return
        if image not in self._named_images:
            self._named_images.add(image)
            self._on_event(
                f"warning: image {image} (first used by {task}) is not reproduced: its "
                "command runs in this Python environment"
            )


def local_command(command: list[str]) -> list[str]:
    """The command with its `python`/`python3` program as this interpreter."""
    if command and Path(command[0]).name in ("python", "python3"):
        return [sys.executable, *command[1:]]
    return list(command)
