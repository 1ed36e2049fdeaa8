"""Training as named stages that a restarted job resumes instead of redoing.

A stage is one `model.fit` (a cross-validation fold, the head, fine-tuning).
With a checkpoint directory (AIP_CHECKPOINT_DIR on Vertex AI):

- the stage in progress is backed up every epoch, or every
  `checkpoint_every_steps` steps (BackupAndRestore, in `<dir>/<stage>/backup`;
  tf-keras keeps only the chief's backup), so a job that restarts after
  preemption or a lost worker resumes it where the last backup left it;
- a finished stage leaves its record (and, when later stages build on them,
  its weights) in `<dir>/<stage>/finished`, so a restarted job skips it.

TensorBoard logs (`<tensorboard_dir>/<stage>`) are written by the chief only.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import tensorflow as tf

from serving.contracts.artifact_dirs import write_json
from trainer.distribution.strategy import Distribution

log = logging.getLogger(__name__)

RECORD = "record.json"
WEIGHTS = "weights"

Fit = Callable[[list[tf.keras.callbacks.Callback]], tf.keras.callbacks.History]
Summarize = Callable[[tf.keras.callbacks.History], dict]


class TrainingStages:
    def __init__(
        self,
        distribution: Distribution,
        tensorboard_dir: str | Path | None = None,
        checkpoint_dir: str | Path | None = None,
        checkpoint_every_steps: int = 0,
    ) -> None:
        self.distribution = distribution
        self.tensorboard_dir = Path(tensorboard_dir) if tensorboard_dir else None
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.save_freq: int | str = checkpoint_every_steps or "epoch"
        self._stages: list[str] = []

    def run(
        self,
        stage: str,
        model: tf.keras.Model,
        fit: Fit,
        summarize: Summarize | None = None,
        keep_weights: bool = True,
    ) -> dict:
        """Fit one stage, or restore it when an earlier attempt finished it.

        `fit` gets the stage's callbacks to add to its own. Returns the stage's
        record: `summarize(history)` plus "curves", the per-epoch values.
        `keep_weights` saves the weights with the record, for stages that
        later ones build on; restoring loads them into `model`.
        """
        self._stages.append(stage)
        record = self._finished(stage, model if keep_weights else None)
        if record is not None:
            return record
        history = fit(self._callbacks(stage))
        record = {**(summarize(history) if summarize else {}), "curves": history_curves(history)}
        self._finish(stage, record, model if keep_weights else None)
        return record

    def fit(
        self,
        stage: str,
        model: tf.keras.Model,
        train: tf.data.Dataset,
        validation: tf.data.Dataset,
        epochs: int,
        patience: int,
        steps_per_epoch: int | None = None,
        summarize: Summarize | None = None,
        keep_weights: bool = True,
    ) -> dict:
        """`run` for the usual stage: `model.fit` stopping early on val_loss, best weights kept."""
        stop = tf.keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=patience, restore_best_weights=True
        )
        return self.run(
            stage,
            model,
            fit=lambda callbacks: model.fit(
                train,
                validation_data=validation,
                epochs=epochs,
                steps_per_epoch=steps_per_epoch,
                callbacks=[stop, *callbacks],
                verbose=2,
            ),
            summarize=summarize,
            keep_weights=keep_weights,
        )

    def clear(self) -> None:
        """Remove the stages' checkpoints (chief only), once the model is exported."""
        if self.checkpoint_dir and self.distribution.is_chief:
            for stage in self._stages:
                shutil.rmtree(self.checkpoint_dir / stage, ignore_errors=True)

    def _callbacks(self, stage: str) -> list[tf.keras.callbacks.Callback]:
        callbacks: list[tf.keras.callbacks.Callback] = [ResumeLog(stage)]
        if self.tensorboard_dir and self.distribution.is_chief:
            log_dir = self.tensorboard_dir / stage
            log.info("Stage %s: TensorBoard logs in %s", stage, log_dir)
            callbacks.append(tf.keras.callbacks.TensorBoard(log_dir=str(log_dir)))
        if self.checkpoint_dir:
            backup_dir = self.checkpoint_dir / stage / "backup"
            log.info("Stage %s: backups every %s in %s", stage, self.save_freq, backup_dir)
            callbacks.append(
                tf.keras.callbacks.BackupAndRestore(str(backup_dir), save_freq=self.save_freq)
            )
        return callbacks

    def _finished(self, stage: str, model: tf.keras.Model | None) -> dict | None:
        if not self.checkpoint_dir:
            return None
        done = self.checkpoint_dir / stage / "finished"
        if not (done / RECORD).is_file():
            return None
        if model is not None:
            with self.distribution.strategy.scope():  # restore onto every replica's variables
                model.load_weights(str(done / WEIGHTS)).expect_partial()
        log.info("Stage %s: finished by an earlier attempt; restored from %s", stage, done)
        return json.loads((done / RECORD).read_text())

    def _finish(self, stage: str, record: dict, model: tf.keras.Model | None) -> None:
        if not self.checkpoint_dir:
            return
        with self.distribution.writer_dir(self.checkpoint_dir / stage / "finished") as done:
            done.mkdir(parents=True, exist_ok=True)
            if model is not None:
                model.save_weights(str(done / WEIGHTS))
            write_json(done / RECORD, record)  # last: the stage's completion marker


class ResumeLog(tf.keras.callbacks.Callback):
    """Logs the epoch a stage starts at when BackupAndRestore resumed it."""

    def __init__(self, stage: str) -> None:
        super().__init__()
        self.stage = stage
        self._first = True

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if self._first and epoch > 0:
            log.info("Stage %s: resumed from backup at epoch %d", self.stage, epoch + 1)
        self._first = False


def history_curves(history: tf.keras.callbacks.History) -> dict:
    """The per-epoch values of a fit, as plain floats for JSON."""
    return {k: [float(v) for v in values] for k, values in history.history.items()}
