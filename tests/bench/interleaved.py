"""Time several loaders in turns, so that outside load on the machine hits all of them alike."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable


def interleaved_rounds(
    loaders: dict[str, Callable[[], Iterable]],
    rounds: int,
    count: int,
    progress: str,
    unit: str,
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Iterate every loader once per round, in turns; (wall seconds, CPU seconds) per loader.

    After each round prints `progress` with each loader's `count` / wall time in `unit`.
    """
    walls: dict[str, list[float]] = {label: [] for label in loaders}
    cpus: dict[str, list[float]] = {label: [] for label in loaders}
    for round_ in range(rounds):
        for label, make in loaders.items():
            wall, cpu = time.perf_counter(), time.process_time()
            for _batch in make():
                pass
            walls[label].append(time.perf_counter() - wall)
            cpus[label].append(time.process_time() - cpu)
        rates = ", ".join(f"{count / walls[k][-1]:,.0f}" for k in loaders)
        print(f"{progress} {round_ + 1}/{rounds}: {rates} {unit}", flush=True)
    return walls, cpus
