"""The local study runner: trials as parallel processes under Optuna, resumable from its directory.

    <study_dir>/study.journal       Optuna's journal storage: every trial, its values and state
    <study_dir>/trials/<id>/        one directory per trial: trial.log, output.metrics, its outputs
    <study_dir>/result.json         the finished study (trainer.tuning.result), written last

Optuna suggests each trial's values; a `launch` function runs the trial (a local
process, or an emulated Vertex AI trial) and returns its metric, or raises
TrialFailed with the reason, which is recorded and does not stop the study. Running
the same study again continues it: finished trials stay, and a trial an interrupted run
stopped (Ctrl-C: a KeyboardInterrupt here or SIGINT in the trial's process, which ends the
run; or SIGKILL/SIGTERM, which leaves it RUNNING) is recorded as interrupted, not counted,
and its values run again. A study is resumed only with the metric, goal and search space
it was started with (kept in the journal): another one is refused. Vertex AI's algorithms map to
Optuna's samplers: its default (Bayesian) to TPE, RANDOM_SEARCH to random, GRID_SEARCH
to the grid of the integer and listed values.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from serving.contracts.artifact_dirs import write_json
from serving.contracts.errors import InputError
from trainer.tuning.result import INFEASIBLE, SUCCEEDED, study_result
from trainer.tuning.space import ALGORITHMS, Parameter, grid_problem

log = logging.getLogger(__name__)

JOURNAL = "study.journal"
RESULT = "result.json"
TRIALS_DIR = "trials"
_INTERRUPTED = "interrupted"
_RERUN_OF = "rerun_of"  # on a trial queued again: the number of the interrupted one
_SPEC = "spec"  # the study's user attribute: its metric, goal and space


class TrialFailed(Exception):
    """A trial that ended without its metric; the message says why (exit status, log tail)."""


class TrialInterrupted(KeyboardInterrupt):
    """A trial stopped by Ctrl-C (its process got SIGINT): the run stops as on Ctrl-C, and the
    trial is recorded as interrupted, so that a resumed run runs its values again."""


# (trial id, the trial's values by parameter, its own directory) -> the metric it reported
Launch = Callable[[str, dict, Path], float]


@dataclass(frozen=True)
class StudySpec:
    """What a study searches, for what, and how many trials (Vertex AI's StudySpec and counts)."""

    metric: str
    goal: str  # "maximize" or "minimize"
    parameters: dict[str, Parameter]
    max_trials: int
    parallel_trials: int = 1
    algorithm: str = "ALGORITHM_UNSPECIFIED"
    seed: int = 0

    def check(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise InputError(
                f"tuning_algorithm={self.algorithm!r} is not one of {', '.join(ALGORITHMS)}."
            )
        floats = [p.name for p in self.parameters.values() if p.kind is float and not p.values]
        if self.algorithm == "GRID_SEARCH" and floats:
            raise InputError(grid_problem(floats))
        if self.max_trials < 1 or self.parallel_trials < 1:
            raise InputError("A study needs at least 1 trial and 1 in parallel.")


def run_study(spec: StudySpec, study_dir: Path, launch: Launch) -> dict:
    """Run (or continue) the study in `study_dir` to `spec.max_trials` trials; its result."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    spec.check()
    study_dir.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(str(study_dir / JOURNAL)))
    study = optuna.create_study(
        study_name="study",
        storage=storage,
        direction=spec.goal,
        sampler=_sampler(spec),
        load_if_exists=True,
    )
    _check_resumed_spec(study, spec, study_dir)
    _requeue_interrupted(study, storage)
    remaining = spec.max_trials - len(_counted(study))
    if remaining > 0:
        log.info(
            "Study %s: %d trials to run, %d in parallel", study_dir, remaining, spec.parallel_trials
        )
        study.optimize(
            _objective(spec, study_dir, launch),
            n_trials=remaining,
            n_jobs=min(spec.parallel_trials, remaining),
            catch=(TrialFailed,),
        )
    result = study_result(spec.metric, spec.goal, [_row(t) for t in _counted(study)])
    write_json(study_dir / RESULT, result)
    log.info("Best trial %s: %s = %s", result["best_trial"], spec.metric, result["best_value"])
    return result


def _objective(spec: StudySpec, study_dir: Path, launch: Launch):
    def objective(trial) -> float:
        values = {name: _suggest(trial, p) for name, p in spec.parameters.items()}
        trial_id = str(trial.number + 1)
        trial.set_user_attr("id", trial_id)
        directory = study_dir / TRIALS_DIR / trial_id
        directory.mkdir(parents=True, exist_ok=True)
        try:
            return launch(trial_id, values, directory)
        except KeyboardInterrupt:  # Optuna records it FAIL: marked so that it is run again
            trial.set_user_attr(_INTERRUPTED, True)
            log.warning("Trial %s was interrupted: a resumed run runs its values again", trial_id)
            raise
        except TrialFailed as failure:
            trial.set_user_attr("error", str(failure))
            log.warning("Trial %s failed: %s", trial_id, failure)
            raise

    return objective


def _suggest(trial, parameter: Parameter) -> object:
    if parameter.values:
        return trial.suggest_categorical(parameter.name, list(parameter.values))
    log_scale = parameter.scale == "log"
    if parameter.kind is int:
        return trial.suggest_int(
            parameter.name, int(parameter.low), int(parameter.high), log=log_scale
        )
    return trial.suggest_float(parameter.name, parameter.low, parameter.high, log=log_scale)


def _sampler(spec: StudySpec):
    import optuna

    if spec.algorithm == "RANDOM_SEARCH":
        return optuna.samplers.RandomSampler(seed=spec.seed)
    if spec.algorithm == "GRID_SEARCH":
        grid = {
            p.name: list(p.values) if p.values else list(range(int(p.low), int(p.high) + 1))
            for p in spec.parameters.values()
        }
        return optuna.samplers.GridSampler(grid, seed=spec.seed)
    return optuna.samplers.TPESampler(seed=spec.seed)


def _check_resumed_spec(study, spec: StudySpec, study_dir: Path) -> None:
    """Keep the study's metric, goal and space in the journal; refuse to resume another.

    Optuna keeps a loaded study's stored direction, and the trials of another metric
    or space would be mixed into the choice of the best one."""
    wanted = _spec_attrs(spec)
    stored = study.user_attrs.get(_SPEC)
    if stored is None:
        study.set_user_attr(_SPEC, wanted)
        return
    differs = [f"{key} {stored.get(key)!r} there, {wanted[key]!r} now" for key in wanted
               if stored.get(key) != wanted[key]]  # fmt: skip
    if differs:
        raise InputError(
            f"The study in {study_dir} was started with another spec ({'; '.join(differs)}): "
            "pass a new study directory, or the spec it was started with."
        )


def _spec_attrs(spec: StudySpec) -> dict:
    """The spec's metric, goal and search space as JSON values (a study's user attribute)."""
    space = {
        name: {"kind": p.kind.__name__, "low": p.low, "high": p.high, "scale": p.scale,
               "values": list(p.values)}
        for name, p in sorted(spec.parameters.items())
    }  # fmt: skip
    return {"metric": spec.metric, "goal": spec.goal, "space": space}


def _requeue_interrupted(study, storage) -> None:
    """Interrupted trials (marked so, or left RUNNING by a killed run): not counted, and their
    values queued once to run again.

    Optuna has no public call to end another process's trial; its storage API takes the
    frozen trial's internal id (`_trial_id`)."""
    from optuna.trial import TrialState

    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        storage.set_trial_user_attr(trial._trial_id, _INTERRUPTED, True)
        storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
    trials = study.get_trials(deepcopy=False)
    queued = {t.user_attrs.get(_RERUN_OF) for t in trials}
    for trial in trials:
        if trial.user_attrs.get(_INTERRUPTED) and trial.number not in queued and trial.params:
            study.enqueue_trial(
                trial.params, user_attrs={_RERUN_OF: trial.number}, skip_if_exists=False
            )
            log.info("Trial %s was interrupted: its values run again", trial.number + 1)


def _counted(study) -> list:
    """The trials that count toward the study's total: finished, not interrupted."""
    from optuna.trial import TrialState

    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL))
    return [t for t in done if not t.user_attrs.get(_INTERRUPTED)]


def _row(trial) -> dict:
    from optuna.trial import TrialState

    succeeded = trial.state == TrialState.COMPLETE
    return {
        "id": trial.user_attrs.get("id", str(trial.number + 1)),
        "state": SUCCEEDED if succeeded else INFEASIBLE,
        "parameters": dict(trial.params),
        "value": trial.value if succeeded else None,
        "error": "" if succeeded else trial.user_attrs.get("error", "failed"),
    }
