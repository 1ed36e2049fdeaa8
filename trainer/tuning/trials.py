"""A case study's study on this machine: each trial is `python -m trainer.task <case>` in a process.

The trial is the case's own training code with a smaller budget (the case's `budget`
caps its epochs) and the trial's values appended as Vertex AI appends them,
`--<parameter_id>=<value>`. It reports its metric with cloudml-hypertune to the file
its environment names (`trainer.tuning.metric_report`); the runner reads it from there.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path

from serving.contracts.errors import InputError
from trainer.parameter_limits import training_config
from trainer.tuning.metric_report import (
    METRIC_FILE_NAME,
    METRIC_FILE_VAR,
    TRIAL_ID_VAR,
    read_metric,
)
from trainer.tuning.space import case_tuning, check_metric, search_space, trial_settings
from trainer.tuning.study import Launch, StudySpec, TrialFailed, TrialInterrupted, run_study

log = logging.getLogger(__name__)

TRIAL_LOG = "trial.log"
DATASET_MARKER = "manifest.json"  # written last by every case's ingest
_TAIL_LINES = 20
_SIGINT_EXITS = (-signal.SIGINT, 128 + signal.SIGINT)  # killed by SIGINT; a shell's report of it


def tune_case(
    case: str,
    dataset_dir: str | Path,
    settings: Mapping[str, object],
    study_dir: str | Path,
    trials: int,
    parallel_trials: int = 1,
    space: Mapping[str, object] | None = None,
    metric: str = "",
    algorithm: str = "ALGORITHM_UNSPECIFIED",
) -> dict:
    """Tune case study `case` on an ingested dataset; the study's result (trainer.tuning.result).

    `settings` are the training config's values (a pipeline's parameters); the trials
    train with them, capped to the case's budget, and the searched fields set per trial.
    `space` None or empty: the case's default space; `metric` "": its default metric.
    """
    if not (Path(dataset_dir) / DATASET_MARKER).is_file():
        raise InputError(
            f"{dataset_dir} is not an ingested dataset (no {DATASET_MARKER}): pass the dataset "
            "directory an ingest step or `python -m trainer.task` wrote."
        )
    tuning = case_tuning(case)
    metric, goal = check_metric(case, tuning, metric, settings)
    parameters = search_space(training_config(case), space or tuning.space)
    fixed = {k: v for k, v in trial_settings(settings, tuning).items() if k not in parameters}
    base = [sys.executable, "-m", "trainer.task", case, "--dataset-dir", str(dataset_dir)]
    base += [*setting_flags(fixed), "--hypertune-metric", metric]
    spec = StudySpec(metric, goal, parameters, trials, parallel_trials, algorithm)
    return run_study(
        spec,
        Path(study_dir),
        process_launch(lambda directory: [*base, f"--model-dir={directory / 'model'}"], metric),
    )


def setting_flags(settings: Mapping[str, object]) -> list[str]:
    """`python -m trainer.task` flags for training settings: `--name=value`, `--[no-]flag`
    (the task's booleans are argparse's BooleanOptionalAction, which takes no value).
    The one implementation: the pipelines' demos and the Vertex AI study use it too."""
    flags = []
    for name, value in settings.items():
        flag = name.replace("_", "-")
        if isinstance(value, bool):
            flags.append(f"--{flag}" if value else f"--no-{flag}")
        else:
            flags.append(f"--{flag}={value}")
    return flags


def process_launch(command: Callable[[Path], list[str]], metric: str) -> Launch:
    """Run each trial as the process `command(trial_dir)` plus its values; its metric."""

    def launch(trial_id: str, values: dict, directory: Path) -> float:
        metric_file = directory / METRIC_FILE_NAME
        metric_file.unlink(missing_ok=True)
        args = [*command(directory), *(f"--{name}={value}" for name, value in values.items())]
        env = {**os.environ, TRIAL_ID_VAR: trial_id, METRIC_FILE_VAR: str(metric_file)}
        log_path = directory / TRIAL_LOG
        log.info("Trial %s: %s (log: %s)", trial_id, values, log_path)
        with log_path.open("w") as out:
            code = subprocess.run(args, stdout=out, stderr=subprocess.STDOUT, env=env).returncode
        if code in _SIGINT_EXITS:
            raise TrialInterrupted(f"trial {trial_id} was interrupted (SIGINT)")
        if code != 0:
            raise TrialFailed(
                f"exited with status {code}; the end of {log_path}:\n{_tail(log_path)}"
            )
        value = read_metric(metric_file, metric)
        if value is None:
            raise TrialFailed(f"finished without reporting {metric} to {metric_file}")
        return value

    return launch


def _tail(path: Path) -> str:
    with path.open(errors="replace") as lines:
        return "".join(deque(lines, maxlen=_TAIL_LINES)).rstrip()
