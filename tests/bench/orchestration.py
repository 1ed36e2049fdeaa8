"""Benchmark 3: orchestration overhead of the kfp local runner.

The vision pipeline (ingest -> train -> evaluate -> deploy) on the kfp local
runner vs the same four library calls in one process. Each side runs in a
fresh interpreter (tests.bench.orchestration_child), so both pay their own
imports; the pipeline's tasks each pay theirs too, which is part of the overhead
measured. The source is a local folder, so the storage emulator is not timed.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import statistics
import sys
from pathlib import Path

from tests.bench.data import REPO, pretrained_weights
from tests.bench.report import Result
from tests.bench.subprocesses import run_logged

NAME = "orchestration"
TITLE = "3. Orchestration overhead"
TARGET = "<= 1.25x in-process"
QUICK_OVERRIDES = ["head_epochs=1", "fine_tune_epochs=1"]


def run(workdir: Path, quick: bool = False) -> Result:
    from trainer.vision.demo_data import CASE_STUDY_DIGITS, write_digit_folders

    pretrained_weights()  # built once, outside the timings
    source = workdir / "digits"
    count = write_digit_folders(source, CASE_STUDY_DIGITS)
    overrides = QUICK_OVERRIDES if quick else []
    # ABBA order: a steady drift in machine load falls on both sides alike.
    order = (
        ["pipeline", "inprocess"] if quick else ["pipeline", "inprocess", "inprocess", "pipeline"]
    )
    walls: dict[str, list[float]] = {"pipeline": [], "inprocess": []}
    rows, epochs_seen = [], set()
    for i, mode in enumerate(order):
        out = workdir / f"{i + 1}-{mode}"
        out.mkdir()
        result_path = out / "result.json"
        print(
            f"[{NAME}] run {i + 1}/{len(order)}, {mode}: starting (log {out / 'log.txt'})",
            flush=True,
        )
        wall = run_logged(
            [
                sys.executable,
                "-m",
                "tests.bench.orchestration_child",
                mode,
                str(source),
                str(out),
                str(result_path),
                *overrides,
            ],
            out / "log.txt",
            prefix=f"[{NAME}] {mode} |",
            cwd=REPO,
        )
        walls[mode].append(wall)
        child = json.loads(result_path.read_text())
        epochs_seen.add(_epochs(child["epochs"]))
        print(
            f"[{NAME}] run {i + 1}/{len(order)}, {mode}: {wall:.1f} s, epochs {child['epochs']}, "
            f"test accuracy {child['accuracy']:.3f}",
            flush=True,
        )
        if mode == "pipeline":
            tasks = task_seconds(out / "log.txt")
            label = "kfp local pipeline (SubprocessRunner, use_venv=False)"
            detail = (
                f"imports {child['imports_s']:.1f} s, run_locally {child['run_locally_s']:.1f} s: "
                + ", ".join(f"{k} {v:.1f} s" for k, v in tasks.items())
            )
        else:
            label = "same calls in one process"
            detail = ", ".join(f"{k} {v:.1f} s" for k, v in child["steps_s"].items())
        rows.append(
            [
                str(i + 1),
                label,
                f"{wall:.1f}",
                detail,
                _epochs(child["epochs"]),
                f"{child['accuracy']:.3f}",
            ]
        )

    pipeline_s = statistics.mean(walls["pipeline"])
    inprocess_s = statistics.mean(walls["inprocess"])
    ratio = pipeline_s / inprocess_s
    notes = [
        f"Source: {count} demo digit PNGs (0-4) in a local folder; pipeline_root and the "
        "registries are temporary directories. Arguments: "
        "pipelines.vision.demo.demo_arguments" + (f" + {overrides}" if overrides else "") + ".",
        f"Mean wall time: pipeline {pipeline_s:.1f} s, in one process {inprocess_s:.1f} s; "
        f"overhead {pipeline_s - inprocess_s:.1f} s. A task's time runs from the runner's "
        "'Executing task' to its 'finished' log line; the tasks that load TensorFlow (train, "
        "evaluate) each pay its import again.",
    ]
    if len(epochs_seen) > 1:
        notes.append(
            "Early stopping ended training after different numbers of epochs in different runs "
            "(the augmented input pipeline is not deterministic), which moves the ratio."
        )
    return Result(
        name=NAME,
        title=TITLE,
        method=(
            "Wall time of a fresh `python -m tests.bench.orchestration_child MODE` process, "
            "start to exit (interpreter start and imports included on both sides), "
            f"{len(order) // 2} run(s) per side in the order {', '.join(order)}; the ratio is "
            "of the mean wall times."
        ),
        columns=[
            "run",
            "how",
            "wall s",
            "where the time went",
            "epochs (head/fine-tune)",
            "test acc",
        ],
        rows=rows,
        headline=f"{ratio:.2f}x ({pipeline_s:.0f} s vs {inprocess_s:.0f} s)",
        target=TARGET,
        met=ratio <= 1.25,
        notes=notes,
    )


def _epochs(epochs: dict) -> str:
    return "/".join(str(epochs.get(stage, 0)) for stage in ("head", "fine_tune"))


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_TASK_LINE = re.compile(
    r"^(\d\d:\d\d:\d\d\.\d+) - INFO - (?:Executing task '([\w-]+)'|Task '([\w-]+)' finished)"
)


def task_seconds(log_path: Path) -> dict[str, float]:
    """Per-task wall time from the kfp local runner's 'Executing task' / 'finished' lines."""
    started, seconds = {}, {}
    for raw in log_path.read_text().splitlines():
        match = _TASK_LINE.match(_ANSI.sub("", raw))
        if not match:
            continue
        clock = dt.datetime.strptime(match[1], "%H:%M:%S.%f")
        if match[2]:
            started[match[2]] = clock
        elif match[3] in started:
            elapsed = (clock - started[match[3]]).total_seconds() % 86400
            seconds[match[3].removesuffix("-image-classifier").removesuffix("-image-folder")] = (
                elapsed
            )
    return seconds
