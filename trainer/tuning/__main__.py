"""Run, or resume, a case study's study on an ingested dataset, outside any pipeline.

    python -m trainer.tuning timeseries --dataset-dir build/dataset --study-dir build/study \\
        --trials 8 --parallel-trials 2 --settings '{"cv_folds": 2, "epochs": 4}'

The same study runner as the pipelines' tune step (trainer.tuning.trials): run it again
with the same --study-dir and it continues, the finished trials kept. Prints the best
trial and where result.json is; bad input ends in one line and exit 2, a study whose
every trial failed in exit 1, Ctrl-C in exit 130 (run it again to resume).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from serving.contracts.errors import InputError
from serving.contracts.logs import setup_logging
from trainer.catalog import case_names
from trainer.parameter_limits import training_config
from trainer.tuning.result import NoTrialSucceeded
from trainer.tuning.space import ALGORITHMS
from trainer.tuning.study import RESULT
from trainer.tuning.trials import tune_case

PROG = "python -m trainer.tuning"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    setup_logging()
    try:
        space, overrides = _json(args.space, "--space"), _json(args.settings, "--settings")
        config = _config(args.case, overrides)
        settings = dataclasses.asdict(config)
        result = tune_case(
            args.case,
            args.dataset_dir,
            settings,
            args.study_dir,
            trials=args.trials,
            parallel_trials=args.parallel_trials,
            space=space,
            metric=args.metric,
            algorithm=args.algorithm,
        )
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted: run it again with --study-dir {args.study_dir} to resume")
        return 130
    except InputError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1 if isinstance(error, NoTrialSucceeded) else 2
    print(
        f"Best trial {result['best_trial']}: {result['metric']} {result['best_value']:.6g} "
        f"with {json.dumps(result['best'])} ({Path(args.study_dir) / RESULT})"
    )
    return 0


def _config(case: str, overrides: dict) -> object:
    """The case's training config with the --settings values, checked."""
    config_type = training_config(case)
    unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(config_type)})
    if unknown:
        raise InputError(
            f"--settings: {', '.join(unknown)} is not a field of {config_type.__name__}: "
            f"use the names of `python -m trainer.task {case} --help`, with underscores."
        )
    config = config_type(**overrides)
    config.check()
    return config


def _json(text: str, flag: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise InputError(f"{flag} {text!r} is not a JSON object, e.g. {flag} '{{}}'.")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("case", choices=case_names())
    parser.add_argument("--dataset-dir", required=True, help="an ingested dataset")
    parser.add_argument("--study-dir", required=True, help="the study's directory (resumed)")
    parser.add_argument("--trials", type=int, required=True)
    parser.add_argument("--parallel-trials", type=int, default=2)
    parser.add_argument("--space", default="{}", help="JSON; {}: the case's default space")
    parser.add_argument("--metric", default="", help="default: the case's")
    parser.add_argument("--algorithm", default=ALGORITHMS[0], choices=ALGORITHMS)
    parser.add_argument(
        "--settings", default="{}", help="JSON: training settings over the defaults"
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
