"""python -m tests.bench [NAME ...] [--quick] [--out FILE] [--merge]

Runs the benchmarks (all by default), prints their tables and, for a full
run, writes BENCHMARKS.md at the repository root; --merge puts a partial run's
sections and summary rows into the existing BENCHMARKS.md instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tests.bench import machine
from tests.bench.data import REPO
from tests.bench.report import Result, console, failed, markdown, merged

BENCHMARKS = [
    "input_pipeline",
    "training_step",
    "orchestration",
    "run_memory",
    "windowing",
    "table_ingest",
    "text_model",
    "distributed_training",
    "serving_load",
    "batch_prediction",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"benchmarks to run: {', '.join(BENCHMARKS)}"
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes, to check that the benchmarks work"
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="where to write the markdown (default: BENCHMARKS.md for a full run, "
        "nothing for a partial or --quick run)",
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="replace (or add) the sections and summary rows of the benchmarks run in "
        "BENCHMARKS.md, leaving the others as they are",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}: choose from {BENCHMARKS}")
    names = [n for n in BENCHMARKS if n in args.names] or BENCHMARKS
    out = args.out
    if out is None and names == BENCHMARKS and not args.quick:
        out = REPO / "BENCHMARKS.md"

    load_at_start = machine.load_average()
    started = time.monotonic()
    results: list[Result] = []
    for name in names:
        module = importlib.import_module(f"tests.bench.{name}")
        print(f"\n[{name}] {module.TITLE}", flush=True)
        bench_started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as workdir:
            try:
                result = module.run(Path(workdir), quick=args.quick)
            except Exception as exc:  # report the others, fail at the end
                traceback.print_exc()
                result = failed(
                    name, module.TITLE, module.TARGET, f"{type(exc).__name__}: {exc}", 0.0
                )
        result.seconds = time.monotonic() - bench_started
        print(f"[{name}] done in {result.seconds:.0f} s: {result.headline}", flush=True)
        results.append(result)
    total = time.monotonic() - started

    print(console(results))
    print(f"\nTotal: {total:.0f} s")
    if args.merge and not args.quick:
        today = time.strftime("%Y-%m-%d")
        for result in results:
            result.notes.append(
                f"Measured alone on {today} (`python -m tests.bench {result.name} --merge`), "
                f"{machine.describe(load_at_start)['nproc']} cores, load average "
                f"{load_at_start} at start, {machine.load_average()} at end."
            )
        path = REPO / "BENCHMARKS.md"
        path.write_text(merged(path.read_text(), results))
        print(f"Merged {', '.join(r.name for r in results)} into {path}")
    elif out is not None:
        out.write_text(markdown(results, machine.describe(load_at_start), total, args.quick))
        print(f"Wrote {out}")
    else:
        print("Partial or --quick run: BENCHMARKS.md not written (use --out to write one).")
    return 1 if any(r.headline == "failed" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
