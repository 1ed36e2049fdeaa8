"""Training stages: backups while a stage runs, records of finished stages, resuming, clean-up.

A crash is a callback raising mid-fit, in this process (the SIGKILL of a
real worker is in test_multi_worker.py).
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import tensorflow as tf

from trainer.distribution.cluster import Cluster
from trainer.distribution.strategy import Distribution, StrategyChoice, distribution_for
from trainer.distribution.training_stages import TrainingStages

EXAMPLES, BATCH = 64, 8  # 8 steps an epoch


class Crash(Exception):
    pass


class CrashAt(tf.keras.callbacks.Callback):
    """Raise at (epoch, step), both counted from 0, as a killed job would stop."""

    def __init__(self, epoch: int, step: int = 0) -> None:
        super().__init__()
        self.epoch, self.step, self.current = epoch, step, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.current, batch) == (self.epoch, self.step):
            raise Crash


class Steps(tf.keras.callbacks.Callback):
    """The (epoch, step) pairs a fit ran."""

    def __init__(self) -> None:
        super().__init__()
        self.ran: list[tuple[int, int]] = []
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.ran.append((self.epoch, batch))


def _data() -> tf.data.Dataset:
    x = np.random.default_rng(0).normal(size=(EXAMPLES, 3)).astype("float32")
    return tf.data.Dataset.from_tensor_slices((x, x.sum(axis=1))).batch(BATCH)


def _model() -> tf.keras.Model:
    tf.keras.utils.set_random_seed(1)
    model = tf.keras.Sequential([tf.keras.Input([3]), tf.keras.layers.Dense(1)])
    model.compile(tf.keras.optimizers.SGD(0.01), "mse")
    return model


def _fit(model, epochs, *extra):
    return lambda callbacks: model.fit(
        _data(), epochs=epochs, callbacks=[*extra, *callbacks], verbose=0
    )


def _stages(checkpoints, every_steps=0, cluster=None) -> TrainingStages:
    distribution = distribution_for("default")
    if cluster is not None:
        distribution = Distribution(distribution.strategy, StrategyChoice("default", ""), cluster)
    return TrainingStages(
        distribution, checkpoint_dir=checkpoints, checkpoint_every_steps=every_steps
    )


def test_a_crashed_stage_resumes_at_the_epoch_it_was_in(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="trainer.distribution.training_stages")
    model = _model()
    with pytest.raises(Crash):
        _stages(tmp_path).run("head", model, _fit(model, 6, CrashAt(epoch=3)))
    model, steps = _model(), Steps()
    record = _stages(tmp_path).run("head", model, _fit(model, 6, steps))
    assert "Stage head: resumed from backup at epoch 4" in caplog.text
    assert sorted({epoch for epoch, _ in steps.ran}) == [3, 4, 5]  # epochs 1-3 not redone
    assert len(record["curves"]["loss"]) == 3


def test_backups_every_n_steps_resume_inside_the_epoch(tmp_path):
    model = _model()
    with pytest.raises(Crash):
        _stages(tmp_path, every_steps=2).run("s", model, _fit(model, 3, CrashAt(epoch=1, step=5)))
    model, steps = _model(), Steps()
    _stages(tmp_path, every_steps=2).run("s", model, _fit(model, 3, steps))
    assert steps.ran[0] == (1, 4)  # the backup after step 4 of epoch 2 (counted from 1)
    assert len(steps.ran) == 4 + 8  # the rest of epoch 2, then epoch 3


def test_a_finished_stage_is_restored_not_refit(tmp_path):
    model = _model()
    first = _stages(tmp_path).run("head", model, _fit(model, 2), summarize=lambda h: {"n": 2})
    trained = model.get_weights()
    calls = []

    def fit_again(callbacks):
        calls.append(1)
        raise AssertionError("a finished stage was fitted again")

    fresh = _model()
    again = _stages(tmp_path).run("head", fresh, fit_again)
    assert calls == [] and again == first and again["n"] == 2
    for restored, saved in zip(fresh.get_weights(), trained, strict=True):
        np.testing.assert_array_equal(restored, saved)


def test_the_chief_clears_finished_stages_and_a_worker_leaves_them(tmp_path):
    model = _model()
    worker = _stages(tmp_path, cluster=Cluster(workers=2, task_type="worker", task_index=1))
    worker.run("head", model, _fit(model, 1))
    assert not (tmp_path / "head" / "finished").exists()  # a worker's record goes to a temp dir
    chief = _stages(tmp_path)
    chief.run("head", model, _fit(model, 1))
    assert (tmp_path / "head" / "finished" / "record.json").is_file()
    chief.clear()
    assert list(tmp_path.iterdir()) == []


def test_without_a_checkpoint_directory_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = _model()
    record = _stages(None).run("head", model, _fit(model, 2))
    assert len(record["curves"]["loss"]) == 2
    assert list(tmp_path.iterdir()) == []


def test_fit_stops_early_on_validation_loss_and_keeps_the_record(tmp_path):
    """With a zero learning rate val_loss never improves: patience 1 ends it after epoch 2."""
    model = _model()
    model.compile(tf.keras.optimizers.SGD(0.0), "mse")
    stages = _stages(tmp_path)
    record = stages.fit("head", model, _data(), _data(), epochs=10, patience=1)
    assert len(record["curves"]["val_loss"]) == 2
    assert _stages(tmp_path).fit("head", _model(), _data(), _data(), 10, 1) == record  # restored
