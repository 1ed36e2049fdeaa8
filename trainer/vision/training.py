"""Train the transfer-learning image classifier on an ingested dataset.

Stage 1 trains the new head on the frozen base; stage 2 (optional) unfreezes
the top of the base at a lower learning rate. Optional k-fold
cross-validation over the training split reports how stable stage 1 is
before the final model is trained.

Each fit is a stage of `trainer.distribution.training_stages` (fold_<i>, head,
fine_tune): with `tensorboard_dir` it writes TensorBoard logs to its own
sub-directory; with `checkpoint_dir` it is backed up as it trains, so a
preempted job that restarts skips finished stages and resumes the one in
progress. On a Vertex AI custom job these are AIP_TENSORBOARD_LOG_DIR and
AIP_CHECKPOINT_DIR (`trainer.distribution.job_dirs`). Under several workers each
reads its own share of the image files (`trainer.distribution.sharding`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from pathlib import Path

import numpy as np
import tensorflow as tf

from serving.contracts.errors import InputError
from serving.contracts.model_metadata import refuse_finished_model
from serving.contracts.splits import kfold_assignments
from trainer.data_validation.baseline import data_attachments
from trainer.distribution.sharding import shard_by_data, shard_by_file
from trainer.distribution.strategy import Distribution, distribution_for
from trainer.distribution.training_stages import TrainingStages
from trainer.vision.config import VisionTrainConfig
from trainer.vision.dataset import Augmentation, make_dataset, split_files
from trainer.vision.export import export_image_classifier
from trainer.vision.ingest import MANIFEST, read_manifest
from trainer.vision.model import build_base, build_classifier, unfreeze_top

log = logging.getLogger(__name__)


def train_image_classifier(
    dataset_dir: str | Path,
    model_dir: str | Path,
    config: VisionTrainConfig,
    tensorboard_dir: str | Path | None = None,
    checkpoint_dir: str | Path | None = None,
    data_baseline_dir: str | Path | None = None,
) -> dict:
    """Train on the 'train' split (early stopping on 'validation') and export to `model_dir`.

    Returns the training metrics written into the model's metadata.
    """
    config.check()
    distribution = distribution_for(config.strategy)  # before any other TensorFlow op
    refuse_finished_model(model_dir)  # before training, not after
    manifest = read_manifest(dataset_dir)
    classes = manifest["classes"]
    train_paths, train_labels = split_files(dataset_dir, manifest, "train")
    val_paths, val_labels = split_files(dataset_dir, manifest, "validation")
    stages = TrainingStages(
        distribution, tensorboard_dir, checkpoint_dir, config.checkpoint_every_steps
    )

    metrics: dict = {}
    if config.cv_folds:
        metrics.update(
            cross_validate(train_paths, train_labels, len(classes), config, distribution, stages)
        )

    train_data = _Data(distribution, config, train_paths, train_labels, val_paths, val_labels)
    model, base = _new_model(len(classes), config, distribution)
    record = train_data.run_stage(stages, "head", model, config.head_epochs, config.learning_rate)
    metrics["head_val_accuracy"] = record["best_val_accuracy"]
    curves = {"head": record["curves"]}

    if config.fine_tune_epochs and config.fine_tune_layers:
        trainable = unfreeze_top(base, config.fine_tune_layers)
        log.info(
            "Fine-tuning the top %d layers of the base (%d trainable)",
            config.fine_tune_layers,
            trainable,
        )
        record = train_data.run_stage(
            stages, "fine_tune", model, config.fine_tune_epochs, config.fine_tune_learning_rate
        )
        metrics["fine_tune_val_accuracy"] = record["best_val_accuracy"]
        curves["fine_tune"] = record["curves"]

    metrics["val_accuracy"] = float(model.evaluate(train_data.validation, verbose=0)[1])
    log.info("Validation accuracy %.4f", metrics["val_accuracy"])
    with distribution.writer_dir(model_dir) as export_dir:
        export_image_classifier(
            model,
            export_dir,
            classes,
            config.image_size,
            metadata={
                "task": "image_classification",
                "training_params": dataclasses.asdict(config),
                "training_metrics": metrics,
                "training_curves": curves,
                "distribution": distribution.summary(
                    config.batch_size, config.learning_rate, config.learning_rate_scaling
                ),
                "dataset": {
                    "source_uri": manifest["source_uri"],
                    "manifest_sha256": hashlib.sha256(
                        (Path(dataset_dir) / MANIFEST).read_bytes()
                    ).hexdigest(),
                    "train_examples": len(train_paths),
                    "validation_examples": len(val_paths),
                },
            },
            attachments=data_attachments(data_baseline_dir),
        )
    stages.clear()
    return metrics


def cross_validate(
    paths: list[str],
    labels: list[int],
    num_classes: int,
    config: VisionTrainConfig,
    distribution: Distribution,
    stages: TrainingStages,
) -> dict:
    """k-fold cross-validation of stage 1 over the training split (folds by file-name hash)."""
    folds = np.array(kfold_assignments([Path(p).name for p in paths], config.cv_folds))
    paths_arr, labels_arr = np.array(paths), np.array(labels)
    scores = []
    for fold in range(config.cv_folds):
        held = folds == fold
        if held.all() or not held.any():
            raise InputError(
                f"cv_folds={config.cv_folds} leaves fold {fold} empty: use fewer folds."
            )
        data = _Data(
            distribution,
            config,
            list(paths_arr[~held]),
            labels_arr[~held].tolist(),
            list(paths_arr[held]),
            labels_arr[held].tolist(),
        )
        model, _ = _new_model(num_classes, config, distribution)
        record = data.run_stage(
            stages, f"fold_{fold}", model, config.head_epochs, config.learning_rate, final=False
        )
        scores.append(record["val_accuracy"])
        log.info("Fold %d/%d: validation accuracy %.4f", fold + 1, config.cv_folds, scores[-1])
    return {
        "cv_accuracy_mean": float(np.mean(scores)),
        "cv_accuracy_std": float(np.std(scores)),
        "cv_fold_accuracies": scores,
    }


class _Data:
    """Training (each worker its own files) and validation (data-sharded) images of one fit."""

    def __init__(
        self,
        distribution: Distribution,
        config: VisionTrainConfig,
        train_paths: list[str],
        train_labels: list[int],
        val_paths: list[str],
        val_labels: list[int],
    ) -> None:
        self.distribution, self.config = distribution, config
        batch = distribution.global_batch_size(config.batch_size)

        def make_training(paths: list[str], labels: list[int], batch_size: int):
            return _dataset(paths, labels, config, batch_size, training=True)

        self.train, self.steps_per_epoch = shard_by_file(
            distribution, train_paths, train_labels, batch, make_training, "training images"
        )
        self.validation = shard_by_data(
            _dataset(val_paths, val_labels, config, batch, training=False), "validation images"
        )

    def run_stage(
        self,
        stages: TrainingStages,
        stage: str,
        model: tf.keras.Model,
        epochs: int,
        learning_rate: float,
        final: bool = True,
    ) -> dict:
        """Compile (in the strategy's scope) and fit one stage; its record.

        The record has the best validation accuracy of the fit and, for a
        fold (not `final`), the validation accuracy of the weights early
        stopping restored.
        """
        config = self.config
        with self.distribution.strategy.scope():
            model.compile(
                optimizer=tf.keras.optimizers.Adam(
                    self.distribution.learning_rate(learning_rate, config.learning_rate_scaling)
                ),
                loss="sparse_categorical_crossentropy",
                metrics=["accuracy"],
            )

        def summarize(history: tf.keras.callbacks.History) -> dict:
            record = {"best_val_accuracy": float(max(history.history["val_accuracy"]))}
            if not final:  # a fold's score: its model is not kept
                record["val_accuracy"] = float(model.evaluate(self.validation, verbose=0)[1])
            return record

        return stages.fit(
            stage,
            model,
            self.train,
            self.validation,
            epochs,
            config.early_stopping_patience,
            steps_per_epoch=self.steps_per_epoch,
            summarize=summarize,
            keep_weights=final,
        )


def _dataset(
    paths, labels, config: VisionTrainConfig, batch_size: int, training: bool
) -> tf.data.Dataset:
    return make_dataset(
        paths,
        labels,
        config.image_size,
        batch_size,
        training=training,
        augmentation=_augmentation(config) if training else None,
        seed=config.seed,
    )


def _new_model(
    num_classes: int, config: VisionTrainConfig, distribution: Distribution
) -> tuple[tf.keras.Model, tf.keras.Model]:
    with distribution.strategy.scope():
        tf.keras.utils.set_random_seed(config.seed)
        base = build_base(config.base_model, config.base_weights, config.image_size)
        model = build_classifier(
            base,
            config.base_model,
            num_classes,
            config.image_size,
            config.head_units,
            config.dropout,
        )
    return model, base


def _augmentation(config: VisionTrainConfig) -> Augmentation:
    return Augmentation(config.augment_flip, config.augment_rotation, config.augment_zoom)
