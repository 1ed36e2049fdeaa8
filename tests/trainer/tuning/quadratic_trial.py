"""A trial that trains nothing: it reports -(x - 3)² for its --x=VALUE, as a trial reports.

`--crash-at=X` exits 3 without reporting when x == X (a crashing trial); `--marker=DIR`
leaves a file per run there, so that a test counts how many trials ran; `--interrupt`
sends itself SIGINT, as Ctrl-C in a terminal does to every trial.
"""

import argparse
import os
import signal
import sys
import uuid
from pathlib import Path

from trainer.tuning.metric_report import report_metric

parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float, required=True)
parser.add_argument("--crash-at", type=float, default=None)
parser.add_argument("--marker", default="")
parser.add_argument("--interrupt", action="store_true")
args = parser.parse_args()
if args.marker:
    Path(args.marker, uuid.uuid4().hex).write_text(str(args.x))
if args.interrupt:
    os.kill(os.getpid(), signal.SIGINT)  # KeyboardInterrupt, unhandled: exits killed by SIGINT
if args.crash_at is not None and args.x == args.crash_at:
    print("Traceback (most recent call last):\nRuntimeError: the trial crashed", file=sys.stderr)
    sys.exit(3)
report_metric("score", -((args.x - 3) ** 2), step=1)
