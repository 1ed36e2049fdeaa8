"""trainer.task, the Vertex AI custom-job entry point: AIP_* directories, end to end, refusals."""

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import tensorflow as tf

from tests.conftest import REPO, quick_config
from trainer.distribution import job_dirs as od
from trainer.task import main, train_task


def _files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


def test_a_vertex_job_writes_tensorboard_logs_and_backups_per_stage(
    digits_dataset, digits_dir, small_base_weights, tmp_path, monkeypatch
):
    """AIP_* gs:// URIs, read through a stand-in /gcs mount, as on a Vertex AI custom job."""
    fuse = tmp_path / "gcs"
    fuse.mkdir()
    monkeypatch.setattr(od, "GCS_FUSE_ROOT", fuse)
    monkeypatch.setenv("AIP_MODEL_DIR", "gs://job/out/model/")
    monkeypatch.setenv("AIP_CHECKPOINT_DIR", "gs://job/out/checkpoints/")
    monkeypatch.setenv("AIP_TENSORBOARD_LOG_DIR", "gs://job/out/logs/")
    backups: dict[str, list[Path]] = {}

    class SpyBackup(tf.keras.callbacks.BackupAndRestore):
        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, logs)
            backups[Path(self.backup_dir).parent.name] = _files(Path(self.backup_dir))

    monkeypatch.setattr(tf.keras.callbacks, "BackupAndRestore", SpyBackup)
    config = quick_config(small_base_weights, head_epochs=1, fine_tune_epochs=1)
    model_dir, metrics = train_task("vision", config, dataset_dir=digits_dataset)

    out = fuse / "job" / "out"
    assert model_dir == out / "model"
    assert json.loads((model_dir / "metadata.json").read_text())["training_metrics"] == metrics
    for stage in ("head", "fine_tune"):
        assert list((out / "logs" / stage).rglob("*.tfevents.*")), stage
        assert backups[stage], f"no backup written during {stage}"
    assert _files(out / "checkpoints") == []  # BackupAndRestore removes it after a finished fit
    serve = tf.saved_model.load(str(model_dir)).signatures["serving_default"]
    png = next(digits_dir.rglob("*.png")).read_bytes()
    assert serve(image_bytes=tf.constant([png]))["probabilities"].shape == (1, 5)


def _task_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIP_")}
    return {**env, "TF_CPP_MIN_LOG_LEVEL": "2", **extra}


def _run_task(args: list[str], env: dict, as_file: bool = False) -> subprocess.CompletedProcess:
    entry = [str(REPO / "trainer" / "task.py")] if as_file else ["-m", "trainer.task"]
    return subprocess.run(
        [sys.executable, *entry, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


BAD_INPUTS = {
    "no_model_dir": "No model directory: pass --model-dir DIR, or set AIP_MODEL_DIR",
    "unknown_flag": "unrecognized arguments: --epochs 3",
    "missing_source": "does not exist",
}


@pytest.fixture(scope="module")
def bad_runs(digits_dir, tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    """Each bad input run once, side by side (each run pays TensorFlow's import)."""
    root = tmp_path_factory.mktemp("bad-inputs")

    def run(case: str) -> tuple[subprocess.CompletedProcess, Path]:
        model_dir = root / case / "model"
        source = root / "nowhere" if case == "missing_source" else digits_dir
        args = ["vision", "--source-uri", str(source)]
        if case != "no_model_dir":
            args += ["--model-dir", str(model_dir)]
        if case == "unknown_flag":
            args += ["--epochs", "3"]
        # The unknown flag runs the file itself, as CustomTrainingJob's script_path does.
        return _run_task(args, _task_env(), as_file=case == "unknown_flag"), model_dir

    with ThreadPoolExecutor(len(BAD_INPUTS)) as pool:
        return dict(zip(BAD_INPUTS, pool.map(run, BAD_INPUTS), strict=True))


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_exits_with_one_clear_line(case, bad_runs):
    done, model_dir = bad_runs[case]
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("trainer.task: error: ") and BAD_INPUTS[case] in last, done.stderr
    assert "Traceback" not in done.stderr
    assert not model_dir.exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--image-size", "big"], "argument --image-size: invalid int value: 'big'"),
        (["--batch-size", "0"], "batch_size=0 is out of range: it must be from 1 to 4,096"),
        (["--dataset-dir", "x", "--source-uri", "y"], "not allowed with argument"),
    ],
)
def test_bad_values_are_refused_before_anything_runs(flags, message, tmp_path, capsys):
    args = ["vision", "--model-dir", str(tmp_path / "model"), *flags]
    if "--source-uri" not in flags:
        args += ["--source-uri", str(tmp_path)]
    with pytest.raises(SystemExit) as exit_:
        main(args)
    error = str(exit_.value.code) + capsys.readouterr().err
    assert message in error
    assert not (tmp_path / "model").exists()


def test_flags_follow_the_config_dataclass(tmp_path):
    from trainer.task import config_flags
    from trainer.vision.config import VisionTrainConfig

    flags = {name: (kind, default) for name, kind, default in config_flags(VisionTrainConfig)}
    assert flags["image_size"] == (int, VisionTrainConfig.image_size)
    assert flags["learning_rate"] == (float, VisionTrainConfig.learning_rate)
    assert set(flags) == set(VisionTrainConfig.__dataclass_fields__)
