"""Benchmark 4: peak memory of `make run` (python -m pipelines run vision).

The real make-run path (storage emulator, upload, kfp local runner, four task
processes) runs as a child process; every ~0.2 s psutil sums the resident set
size (RSS) of the whole process tree: the CLI, the emulator, each task's shell
and Python processes. It runs with a temporary working directory whose
build/pretrained links to the repository's, so it writes nothing into build/.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.bench.data import REPO, REPO_BUILD, pretrained_weights
from tests.bench.report import Result
from tests.bench.subprocesses import run_logged

NAME = "run_memory"
TITLE = "4. Peak memory of make run"
TARGET = "< 2 GiB (process tree)"
LIMIT = 2 * 2**30
INTERVAL_S = 0.2
QUICK_OVERRIDES = ["--set", "head_epochs=1", "--set", "fine_tune_epochs=1"]


@dataclass
class TreeSampler:
    """Samples the RSS of a process and all its descendants until it exits."""

    root_pid: int
    samples: int = 0
    peak_tree: int = 0
    peak_tree_at: float = 0.0
    peak_tree_members: list[str] = field(default_factory=list)
    peaks: dict[int, tuple[str, int]] = field(default_factory=dict)  # pid -> (label, peak)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        import psutil

        started = time.monotonic()
        try:
            root = psutil.Process(self.root_pid)
        except psutil.NoSuchProcess:
            return
        while not self._stop.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            total, members = 0, []
            for proc in procs:
                try:
                    rss = proc.memory_info().rss
                    label = self.peaks.get(proc.pid, (None, 0))[0] or _label(proc, root)
                except psutil.Error:
                    continue  # exited between listing and reading
                total += rss
                members.append(f"{label} {rss / 2**20:.0f} MiB")
                if rss > self.peaks.get(proc.pid, ("", 0))[1]:
                    self.peaks[proc.pid] = (label, rss)
            self.samples += 1
            if total > self.peak_tree:
                self.peak_tree, self.peak_tree_members = total, members
                self.peak_tree_at = time.monotonic() - started
            self._stop.wait(INTERVAL_S)

    def stop(self) -> None:
        self._stop.set()


def _label(proc, root) -> str:
    if proc.pid == root.pid:
        return "pipelines CLI"
    cmdline = proc.cmdline()
    if "--function_to_execute" in cmdline:
        task = cmdline[cmdline.index("--function_to_execute") + 1]
        shell = os.path.basename(cmdline[0]) in {"sh", "bash", "dash"}
        return f"task {task}" + (" (sh)" if shell else "")
    if any("gcp_storage_emulator" in part for part in cmdline):
        return "storage emulator"
    return os.path.basename(cmdline[0]) if cmdline else proc.name()


def run(workdir: Path, quick: bool = False) -> Result:
    pretrained_weights()  # built once, outside the measurement
    (workdir / "build").mkdir()
    (workdir / "build" / "pretrained").symlink_to(REPO_BUILD / "pretrained")
    command = [sys.executable, "-m", "pipelines", "run", "vision"]
    if quick:
        command += QUICK_OVERRIDES
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    samplers: list[TreeSampler] = []
    threads: list[threading.Thread] = []

    def start_sampling(process) -> None:
        sampler = TreeSampler(process.pid)
        thread = threading.Thread(target=sampler.run, daemon=True)
        thread.start()
        samplers.append(sampler)
        threads.append(thread)

    marks: list[tuple[float, str]] = []
    print(f"[{NAME}] {' '.join(command[1:])} in {workdir} (log {workdir / 'log.txt'})", flush=True)
    try:
        seconds = run_logged(
            command,
            workdir / "log.txt",
            prefix=f"[{NAME}] |",
            cwd=workdir,
            env=env,
            on_start=start_sampling,
            marks=marks,
        )
    finally:
        for sampler in samplers:
            sampler.stop()
        for thread in threads:
            thread.join(timeout=5)
    sampler = samplers[0]
    by_label: dict[str, int] = {}
    for label, peak in sampler.peaks.values():
        by_label[label] = max(peak, by_label.get(label, 0))
    biggest_label, biggest = max(by_label.items(), key=lambda item: item[1])
    print(
        f"[{NAME}] {seconds:.0f} s, {sampler.samples} samples, peak tree RSS "
        f"{_mib(sampler.peak_tree)}, largest process {biggest_label} {_mib(biggest)}",
        flush=True,
    )
    rows = [["whole process tree (sum of RSS)", _mib(sampler.peak_tree), _gib(sampler.peak_tree)]]
    rows += [
        [label, _mib(peak), _gib(peak)]
        for label, peak in sorted(by_label.items(), key=lambda item: -item[1])
    ]
    first_task = next((t for t, line in marks if "Executing task" in line), None)
    registry = workdir / "build" / "registry"
    registered = registry.is_dir() and any(registry.rglob("registration.json"))
    return Result(
        name=NAME,
        title=TITLE,
        method=(
            f"`{' '.join(['python', *command[1:]])}` (what `make run` runs) as a child process "
            f"with a temporary working directory; psutil sampled the RSS of the process tree "
            f"every {INTERVAL_S} s ({sampler.samples} samples over {seconds:.0f} s). Rows below "
            "the first are each process's own peak (the largest, where a label repeats)."
        ),
        columns=["process", "peak RSS", "GiB"],
        rows=rows,
        headline=(
            f"peak tree {_gib(sampler.peak_tree)} GiB, largest process {_gib(biggest)} GiB "
            f"({biggest_label})"
        ),
        target=TARGET,
        met=sampler.peak_tree < LIMIT,
        notes=[
            f"At the tree's peak ({sampler.peak_tree_at:.0f} s in): "
            + "; ".join(sampler.peak_tree_members)
            + ".",
            f"The first pipeline task started {first_task:.0f} s after launch (CLI imports, "
            "writing the demo images, starting the storage emulator, uploading the images to it)."
            if first_task is not None
            else "No pipeline task started.",
            "Summed RSS counts pages shared between processes (libraries, the Python "
            "interpreter) once per process, so the tree figure is an upper bound.",
            "Registered a model (into the temporary build/registry): "
            + ("yes." if registered else "no (not blessed)."),
        ],
    )


def _mib(value: int) -> str:
    return f"{value / 2**20:.0f} MiB"


def _gib(value: int) -> str:
    return f"{value / 2**30:.2f}"
