"""What the benchmarks ran on: cores, CPU model, memory, load, versions, date."""

from __future__ import annotations

import datetime as dt
import os
import platform
from importlib import metadata


def _cpuinfo_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> str:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def load_average() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def describe(load_at_start: str) -> dict[str, str]:
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "nproc": str(len(os.sched_getaffinity(0))),
        "CPU model": _cpuinfo_model(),
        "RAM": _ram_gib(),
        "load average (1/5/15 min) at start": load_at_start,
        "load average at end": load_average(),
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "tensorflow-cpu / tf-keras / kfp": " / ".join(
            _version(p) for p in ("tensorflow-cpu", "tf-keras", "kfp")
        ),
    }
