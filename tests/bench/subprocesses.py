"""Run a child process with its output saved to a log and its key lines echoed."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Lines worth showing while a pipeline runs: kfp task starts/ends, the results.
PROGRESS = re.compile(
    r"Executing task|finished with status|Pipeline .* finished|Test accuracy|"
    r"Validation accuracy|Ingested \d+|Registered |Finished in|Storage emulator on|Traceback|Error"
)


def run_logged(
    command: list[str],
    log_path: Path,
    prefix: str,
    cwd: Path | None = None,
    env: dict | None = None,
    on_start: Callable[[subprocess.Popen], None] | None = None,
    marks: list[tuple[float, str]] | None = None,
) -> float:
    """Run `command` to completion; return its wall time in seconds.

    stdout+stderr go to `log_path`; lines matching PROGRESS are echoed with
    `prefix` and, when `marks` is given, appended to it as (seconds since start,
    line). Raises RuntimeError with the log's tail when the command fails.
    """
    started = time.monotonic()
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        if on_start is not None:
            on_start(process)
        assert process.stdout is not None
        for line in process.stdout:
            log.write(line)
            if PROGRESS.search(line):
                elapsed, text = time.monotonic() - started, _ANSI.sub("", line.rstrip())
                print(f"{prefix} +{elapsed:5.1f}s {text[:150]}", flush=True)
                if marks is not None:
                    marks.append((elapsed, text))
        returncode = process.wait()
    seconds = time.monotonic() - started
    if returncode != 0:
        tail = "".join(log_path.read_text().splitlines(keepends=True)[-40:])
        raise RuntimeError(f"{' '.join(command[:6])} ... exited with {returncode}:\n{tail}")
    return seconds
