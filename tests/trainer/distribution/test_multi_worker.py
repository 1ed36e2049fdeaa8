"""Two real worker processes (trainer.launch + MultiWorkerMirroredStrategy) train each case study.

Each 2-worker model is compared with the same configuration trained by one
process: with the global batch doubled and the learning rate scaled
linearly, the quality must stay within QUALITY_TOLERANCE (accuracy points,
or a relative MAE for the forecaster). Then a worker is killed with SIGKILL
mid-training, and the rerun resumes from the last backup.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import tensorflow as tf

from tests.conftest import REPO, quick_config
from tests.trainer.conftest import small_forecast_config
from trainer.launch import launch
from trainer.task import main as task_main
from trainer.text.config import TextTrainConfig
from trainer.text.demo_data import write_messages_jsonl
from trainer.text.embedding_module import write_text_embedding_module
from trainer.text.ingest import ingest_text_file
from trainer.text.training import train_text_classifier
from trainer.vision.pretrain_base import DEFAULT_BASE

ACCURACY_TOLERANCE = 0.15  # validation accuracy, absolute
MAE_TOLERANCE = 0.35  # training MAE, relative
STRATEGY_LINE = "Strategy: MultiWorkerMirroredStrategy, because TF_CONFIG lists 2 workers"
EPOCH_LINE = re.compile(r"^\[worker 0\] \d+/\d+ - .*loss: ", re.MULTILINE)
VISION_FLAGS = ("base_model", "base_weights", "image_size", "batch_size", "head_epochs")
VISION_FLAGS += ("fine_tune_epochs", "fine_tune_layers", "augment_flip")
TEXT_SETTINGS = {"epochs": 6, "learning_rate": 0.005}


@pytest.fixture(scope="module")
def text_data(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("text")
    hub = write_text_embedding_module(root / "hub", 2048, 16)
    ingest_text_file(str(write_messages_jsonl(root / "messages.jsonl", count=450)), root / "data")
    return root / "data", hub


def _flags(settings: dict) -> list[str]:
    return [f"--{k.replace('_', '-')}={v}" for k, v in settings.items()]


@contextlib.contextmanager
def _environ(**variables: str) -> Iterator[None]:
    """Set variables for the workers the block launches (they inherit os.environ)."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                del os.environ[name]
            else:
                os.environ[name] = value


def _train_two_workers(
    case: str, data: list[str], settings: dict, root: Path, model_dir_flag: bool = True
) -> tuple[dict, str]:
    """(metadata of the chief's model, the launcher's log); workers' temp dirs checked empty.

    The model directory is --model-dir, or AIP_MODEL_DIR as on Vertex AI.
    """
    scratch = root / "worker-tmp"
    scratch.mkdir()
    model_dir = root / "model"
    args = [case, *data, *_flags(settings)]
    if model_dir_flag:
        args += ["--model-dir", str(model_dir)]
    out = io.StringIO()
    # TMPDIR: the workers' tempfile directory (this process has cached its own).
    with _environ(TMPDIR=str(scratch), AIP_MODEL_DIR=str(model_dir)):
        launch(2, args, timeout_s=400, output=out)
    log = out.getvalue()
    for worker in (0, 1):
        assert f"[worker {worker}] INFO trainer.distribution.strategy: {STRATEGY_LINE}" in log
    assert re.search(r"^\[worker 1\] \d+/\d+ - .*loss: ", log, re.MULTILINE)  # worker 1 trained
    assert f"[worker 1] Worker done; the chief writes the model to {model_dir}" in log
    assert list(scratch.iterdir()) == []  # worker 1's export (and ingest) went there, now removed
    metadata = json.loads((model_dir / "metadata.json").read_text())
    assert metadata["distribution"]["workers"] == metadata["distribution"]["replicas"] == 2
    assert metadata["distribution"]["global_batch_size"] == 2 * settings["batch_size"]
    return metadata, log


def test_two_workers_train_the_text_classifier(text_data, tmp_path):
    dataset, hub = text_data
    settings = {"hub_handle": str(hub), "batch_size": 32, **TEXT_SETTINGS}
    single = train_text_classifier(dataset, tmp_path / "single", TextTrainConfig(**settings))
    metadata, _ = _train_two_workers("text", ["--dataset-dir", str(dataset)], settings, tmp_path)
    two = metadata["training_metrics"]["val_accuracy"]
    assert two > 0.7  # three balanced classes: chance is 1/3
    assert abs(two - single["val_accuracy"]) <= ACCURACY_TOLERANCE
    serve = tf.saved_model.load(str(tmp_path / "model")).signatures["serving_default"]
    assert serve(text=tf.constant(["my invoice is wrong"]))["label"].shape == (1,)


def test_two_workers_train_the_forecaster(series_dataset, tmp_path):
    """The final fit alone (no cross-validation folds: each fold is one more synchronised
    training, which the image and text cases already cover)."""
    from trainer.timeseries.training import train_forecaster

    config = small_forecast_config(cv_folds=0)
    single = train_forecaster(series_dataset, tmp_path / "single", config)
    settings = {
        name: value
        for name, value in vars(config).items()
        if name in ("time_column", "target_column", "window", "horizon", "lstm_units")
        or name in ("batch_size", "epochs", "cv_folds", "test_fraction", "learning_rate")
    }
    data = ["--dataset-dir", str(series_dataset)]
    metadata, _ = _train_two_workers("timeseries", data, settings, tmp_path)
    two = metadata["training_metrics"]["train_mae"]
    assert abs(two - single["train_mae"]) <= MAE_TOLERANCE * single["train_mae"]
    serve = tf.saved_model.load(str(tmp_path / "model")).signatures["serving_default"]
    forecast = serve(window=tf.zeros([1, settings["window"]]))["forecast"]
    assert forecast.shape == (1, settings["horizon"])


def test_two_workers_train_the_image_classifier(
    digits_dir, small_base_weights, trained_model, tmp_path
):
    """From the class folders, into AIP_MODEL_DIR, as a Vertex AI job of two replicas.

    Each worker ingests the folders itself, then reads its own half of the
    files (file-based sharding).
    """
    _, single = trained_model
    config = quick_config(small_base_weights)
    settings = {name: getattr(config, name) for name in VISION_FLAGS}
    assert settings["base_model"] == DEFAULT_BASE
    data = ["--source-uri", str(digits_dir)]
    metadata, log = _train_two_workers("vision", data, settings, tmp_path, model_dir_flag=False)
    assert metadata["dataset"]["source_uri"] == str(digits_dir)
    model_line = f"[worker 0] Model: {tmp_path / 'model'} (validation accuracy "
    assert model_line in log
    train_files = metadata["dataset"]["train_examples"]
    shares = [
        int(re.search(rf"worker {w} of 2 reads (\d+) of {train_files} files", log).group(1))
        for w in (0, 1)
    ]
    assert sum(shares) == train_files and abs(shares[0] - shares[1]) <= 1
    two = metadata["training_metrics"]["val_accuracy"]
    assert abs(two - single["val_accuracy"]) <= ACCURACY_TOLERANCE


def test_a_killed_worker_is_resumed_from_the_last_backup(text_data, tmp_path):
    """SIGKILL one worker after a few epochs; the rerun resumes; a third run refuses."""
    dataset, hub = text_data
    epochs = 8
    settings = {
        "hub_handle": str(hub),
        "epochs": epochs,
        "early_stopping_patience": epochs,
        "learning_rate": 0.002,
    }
    checkpoints, model_dir = tmp_path / "checkpoints", tmp_path / "model"
    args = ["text", "--dataset-dir", str(dataset), "--model-dir", str(model_dir)]
    args += ["--checkpoint-dir", str(checkpoints), *_flags(settings)]

    first = subprocess.Popen(
        [sys.executable, "-m", "trainer.launch", "--workers", "2", "--timeout", "300", "--", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in first.stdout], daemon=True).start()
    log, deadline = "", time.monotonic() + 240
    try:
        while len(EPOCH_LINE.findall(log)) < 3:
            assert time.monotonic() < deadline and first.poll() is None, log[-3000:]
            try:
                log += lines.get(timeout=1)
            except queue.Empty:
                continue
        done_before_kill = len(EPOCH_LINE.findall(log))
        worker_1 = int(re.search(r"worker 1: pid (\d+)", log).group(1))
        os.kill(worker_1, signal.SIGKILL)
        assert first.wait(timeout=60) != 0
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    time.sleep(0.5)
    while not lines.empty():
        log += lines.get()
    assert f"worker 1 (pid {worker_1}) was killed by SIGKILL; stopped the other workers" in log
    assert not (model_dir / "metadata.json").exists()
    assert (checkpoints / "train" / "backup").is_dir()

    out = io.StringIO()
    launch(2, args, timeout_s=300, output=out)
    rerun = out.getvalue()
    resumed = int(
        re.search(r"\[worker 0\] .*Stage train: resumed from backup at epoch (\d+)", rerun).group(1)
    )
    assert resumed - 1 >= done_before_kill - 1  # at most one epoch's work redone
    assert len(EPOCH_LINE.findall(rerun)) == epochs - (resumed - 1)
    serve = tf.saved_model.load(str(model_dir)).signatures["serving_default"]
    assert serve(text=tf.constant(["where is my parcel"]))["label"].shape == (1,)
    assert not (checkpoints / "train").exists()  # the finished job's backups are removed

    with pytest.raises(SystemExit, match=r"already holds a trained model \(metadata.json\)"):
        task_main(args)  # what each worker of a third launch would run
    assert json.loads((model_dir / "metadata.json").read_text())["task"] == "text_classification"
