"""The local study runner with a tiny trial process (quadratic_trial.py): no training, real
processes, Optuna's journal on disk. Real trials of a case study: tests/pipelines/timeseries."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from serving.contracts.errors import InputError
from trainer.tuning.result import NoTrialSucceeded
from trainer.tuning.space import Parameter
from trainer.tuning.study import JOURNAL, RESULT, StudySpec, TrialInterrupted, run_study
from trainer.tuning.trials import TRIAL_LOG, process_launch

TRIAL = str(Path(__file__).with_name("quadratic_trial.py"))
X_RANGE = {"x": Parameter("x", float, low=0.0, high=6.0)}
X_VALUES = {"x": Parameter("x", int, values=(1, 2, 3, 4))}


def launch(*extra: str):
    return process_launch(lambda directory: [sys.executable, TRIAL, *extra], "score")


def test_four_trials_two_in_parallel_pick_the_best_by_the_metric(tmp_path):
    spec = StudySpec("score", "maximize", X_RANGE, max_trials=4, parallel_trials=2)
    result = run_study(spec, tmp_path, launch())

    trials = result["trials"]
    assert sorted(t["id"] for t in trials) == ["1", "2", "3", "4"]
    assert all(t["state"] == "SUCCEEDED" for t in trials)
    for trial in trials:  # each in its own directory, its metric as the trial reported it
        assert trial["value"] == pytest.approx(-((trial["parameters"]["x"] - 3) ** 2))
        assert (tmp_path / "trials" / trial["id"] / TRIAL_LOG).is_file()
    best = max(trials, key=lambda t: t["value"])
    assert (result["best_trial"], result["best"]) == (best["id"], best["parameters"])
    assert json.loads((tmp_path / RESULT).read_text()) == result


def test_a_crashing_trial_is_recorded_and_the_study_goes_on(tmp_path):
    spec = StudySpec("score", "minimize", X_VALUES, max_trials=4, algorithm="GRID_SEARCH")
    result = run_study(spec, tmp_path, launch("--crash-at=2"))

    by_x = {t["parameters"]["x"]: t for t in result["trials"]}
    assert sorted(by_x) == [1, 2, 3, 4]
    assert by_x[2]["state"] == "INFEASIBLE" and "value" not in by_x[2]
    assert "exited with status 3" in by_x[2]["error"]
    assert "RuntimeError: the trial crashed" in by_x[2]["error"]
    assert result["best"] == {"x": 1}
    assert result["best_value"] == -4  # minimize: x=1 gives -(1-3)² = -4, the lowest


def test_a_study_whose_trials_all_fail_says_so(tmp_path):
    spec = StudySpec("score", "maximize", X_VALUES, max_trials=2)
    with pytest.raises(NoTrialSucceeded, match=r"All 2 tuning trials failed.*without reporting"):
        run_study(spec, tmp_path, process_launch(lambda d: [sys.executable, "-c", "0"], "score"))


def test_an_interrupted_study_resumes_without_redoing_finished_trials(tmp_path):
    markers = tmp_path / "runs"
    markers.mkdir()
    study_dir = tmp_path / "study"
    first = StudySpec("score", "maximize", X_RANGE, max_trials=2, seed=1)
    run_study(first, study_dir, launch(f"--marker={markers}"))
    assert len(list(markers.iterdir())) == 2
    # A run stopped while a trial ran leaves it RUNNING in the journal (Optuna's ask, no tell).
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(study_dir / JOURNAL))
    )
    stopped = optuna.load_study(study_name="study", storage=storage).ask()
    stopped.suggest_float("x", 0.0, 6.0)
    interrupted_x = stopped.params["x"]

    result = run_study(
        StudySpec("score", "maximize", X_RANGE, max_trials=4, seed=1),
        study_dir,
        launch(f"--marker={markers}"),
    )

    assert len(list(markers.iterdir())) == 4  # 2 more trials, not 4 again
    assert len(result["trials"]) == 4 and all(t["state"] == "SUCCEEDED" for t in result["trials"])
    assert interrupted_x in [t["parameters"]["x"] for t in result["trials"]]  # its values re-ran


def _stored_trials(study_dir: Path) -> list:
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(study_dir / JOURNAL))
    )
    return optuna.load_study(study_name="study", storage=storage).get_trials()


def _interrupting_launch(markers: Path):
    """A launch whose trial process gets SIGINT, or (second form) Ctrl-C in this process."""
    child = launch(f"--marker={markers}", "--interrupt")

    def ctrl_c(trial_id: str, values: dict, directory: Path) -> float:
        raise KeyboardInterrupt

    return child, ctrl_c


@pytest.mark.parametrize("form", [0, 1], ids=["sigint-in-the-trial", "ctrl-c-in-the-runner"])
def test_a_trial_interrupted_by_ctrl_c_is_not_a_failure_and_runs_again(tmp_path, form):
    markers = tmp_path / "runs"
    markers.mkdir()
    study_dir = tmp_path / "study"
    spec = StudySpec("score", "maximize", X_RANGE, max_trials=2, seed=1)
    expected = TrialInterrupted if form == 0 else KeyboardInterrupt
    with pytest.raises(expected):
        run_study(spec, study_dir, _interrupting_launch(markers)[form])
    [stopped] = _stored_trials(study_dir)
    assert stopped.user_attrs["interrupted"] is True and "error" not in stopped.user_attrs

    result = run_study(spec, study_dir, launch(f"--marker={markers}"))

    assert len(result["trials"]) == 2  # the interrupted trial is not counted, nor listed
    assert all(t["state"] == "SUCCEEDED" for t in result["trials"])
    assert stopped.params["x"] in [t["parameters"]["x"] for t in result["trials"]]
    runs = len(list(markers.iterdir()))
    assert run_study(spec, study_dir, launch(f"--marker={markers}")) == result
    assert len(list(markers.iterdir())) == runs  # queued again once, not on every resume


@pytest.mark.parametrize(
    "change, differs",
    [
        ({"metric": "loss"}, "metric 'score' there, 'loss' now"),
        ({"goal": "minimize"}, "goal 'maximize' there, 'minimize' now"),
        ({"parameters": X_VALUES}, "space {"),
    ],
)
def test_a_study_is_not_resumed_with_another_metric_goal_or_space(tmp_path, change, differs):
    spec = StudySpec("score", "maximize", X_RANGE, max_trials=1)
    run_study(spec, tmp_path, launch())
    other = dataclasses.replace(spec, max_trials=2, **change)
    with pytest.raises(InputError, match="was started with another spec") as error:
        run_study(other, tmp_path, launch())
    assert str(tmp_path) in str(error.value) and differs in str(error.value)
    assert len(_stored_trials(tmp_path)) == 1  # nothing ran
    assert run_study(dataclasses.replace(spec, max_trials=2), tmp_path, launch())["trials"]


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--space", '{"bogus": {"min": 1, "max": 2}}'], "tuning_space names 'bogus'"),
        (["--settings", '{"cv_folds": 0}'], "tuning_metric=cv_mae_mean needs cv_folds >= 2"),
        (["--settings", "[1]"], "--settings '[1]' is not a JSON object"),
        ([], "is not an ingested dataset (no manifest.json)"),
        (["--settings", '{"bogus": 1}'], "--settings: bogus is not a field of TimeseriesTrain"),
    ],
)
def test_the_command_refuses_bad_input_in_one_line(tmp_path, flags, message):
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    if flags:  # an ingested dataset: the bad input is in the flags
        (dataset / "manifest.json").write_text("{}")
    args = ["timeseries", "--dataset-dir", str(dataset), "--study-dir", str(tmp_path / "s")]
    result = subprocess.run(
        [sys.executable, "-m", "trainer.tuning", *args, "--trials", "2", *flags],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("python -m trainer.tuning: error: ") and message in line
    assert not (tmp_path / "s").exists()
