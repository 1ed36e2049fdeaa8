"""TensorBoard logs and resumable backups for one training stage.

On a Vertex AI custom job the directories are AIP_TENSORBOARD_LOG_DIR and
AIP_CHECKPOINT_DIR (`trainer.output_dirs`); locally they are off unless given.
"""

from __future__ import annotations

import logging
from pathlib import Path

import tensorflow as tf

log = logging.getLogger(__name__)


def stage_callbacks(
    stage: str, tensorboard_dir: str | Path | None, checkpoint_dir: str | Path | None
) -> list[tf.keras.callbacks.Callback]:
    """TensorBoard and BackupAndRestore for one stage, each in its own `<dir>/<stage>`."""
    callbacks: list[tf.keras.callbacks.Callback] = []
    if tensorboard_dir:
        log_dir = Path(tensorboard_dir) / stage
        log.info("Stage %s: TensorBoard logs in %s", stage, log_dir)
        callbacks.append(tf.keras.callbacks.TensorBoard(log_dir=str(log_dir)))
    if checkpoint_dir:
        backup_dir = Path(checkpoint_dir) / stage
        log.info("Stage %s: backups for resuming in %s", stage, backup_dir)
        callbacks.append(tf.keras.callbacks.BackupAndRestore(backup_dir=str(backup_dir)))
    return callbacks


def history_curves(history: tf.keras.callbacks.History) -> dict:
    """The per-epoch values of a fit, as plain floats for JSON."""
    return {k: [float(v) for v in values] for k, values in history.history.items()}
