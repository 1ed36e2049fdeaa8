"""Train the transfer-learning image classifier on an ingested dataset.

Stage 1 trains the new head on the frozen base; stage 2 (optional) unfreezes
the top of the base at a lower learning rate. Optional k-fold
cross-validation over the training split reports how stable stage 1 is
before the final model is trained.

With `tensorboard_dir` each stage writes TensorBoard logs to its own
sub-directory (head/, fine_tune/); with `checkpoint_dir` each stage is backed
up every epoch (BackupAndRestore, under head/ or fine_tune/), so a preempted
job that restarts resumes that stage where it stopped. On a Vertex AI custom
job these are AIP_TENSORBOARD_LOG_DIR and AIP_CHECKPOINT_DIR
(`trainer.output_dirs`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from trainer.cluster import check_single_replica
from trainer.errors import InputError
from trainer.image_dataset import Augmentation, make_dataset, split_files
from trainer.image_ingest import MANIFEST, read_manifest
from trainer.model_metadata import refuse_finished_model
from trainer.splits import kfold_assignments
from trainer.training_callbacks import history_curves, stage_callbacks
from trainer.vision_export import export_image_classifier
from trainer.vision_model import build_base, build_classifier, unfreeze_top

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VisionTrainConfig:
    base_model: str = "resnet50"
    base_weights: str = "imagenet"
    image_size: int = 224
    batch_size: int = 32
    head_epochs: int = 10
    fine_tune_epochs: int = 5
    fine_tune_layers: int = 30
    learning_rate: float = 1e-3
    fine_tune_learning_rate: float = 1e-4
    head_units: int = 128
    dropout: float = 0.2
    augment_flip: str = "horizontal"
    augment_rotation: float = 0.1
    augment_zoom: float = 0.1
    early_stopping_patience: int = 3
    cv_folds: int = 0
    seed: int = 42

    def check(self) -> None:
        positive = ("image_size", "batch_size", "head_epochs", "head_units")
        for name in positive:
            if getattr(self, name) <= 0:
                raise InputError(f"{name} must be positive, got {getattr(self, name)}.")
        for name in ("learning_rate", "fine_tune_learning_rate"):
            if getattr(self, name) <= 0:
                raise InputError(f"{name} must be positive, got {getattr(self, name)}.")
        if not 0 <= self.dropout < 1:
            raise InputError(f"dropout must be in [0, 1), got {self.dropout}.")
        if self.augment_rotation < 0 or self.augment_zoom < 0:
            raise InputError("augment_rotation and augment_zoom must be 0 (off) or positive.")
        if self.fine_tune_epochs < 0 or self.fine_tune_layers < 0:
            raise InputError("fine_tune_epochs and fine_tune_layers must be 0 or more.")
        if self.cv_folds == 1 or self.cv_folds < 0:
            raise InputError(f"cv_folds must be 0 (off) or at least 2, got {self.cv_folds}.")
        if self.augment_flip not in {"horizontal", "vertical", "horizontal_and_vertical", "none"}:
            raise InputError(
                f"augment_flip {self.augment_flip!r} is not one of horizontal, vertical, "
                "horizontal_and_vertical, none."
            )

    @property
    def augmentation(self) -> Augmentation:
        return Augmentation(self.augment_flip, self.augment_rotation, self.augment_zoom)


def train_image_classifier(
    dataset_dir: str | Path,
    model_dir: str | Path,
    config: VisionTrainConfig,
    tensorboard_dir: str | Path | None = None,
    checkpoint_dir: str | Path | None = None,
) -> dict:
    """Train on the 'train' split (early stopping on 'validation') and export to `model_dir`.

    Returns the training metrics written into the model's metadata.
    """
    config.check()
    check_single_replica()
    refuse_finished_model(model_dir)  # before training, not after
    manifest = read_manifest(dataset_dir)
    classes = manifest["classes"]
    tf.keras.utils.set_random_seed(config.seed)
    train_paths, train_labels = split_files(dataset_dir, manifest, "train")
    val_paths, val_labels = split_files(dataset_dir, manifest, "validation")

    metrics: dict = {}
    if config.cv_folds:
        metrics.update(cross_validate(train_paths, train_labels, len(classes), config))

    train_ds = _dataset(train_paths, train_labels, config, training=True)
    val_ds = _dataset(val_paths, val_labels, config, training=False)
    model, base = _new_model(len(classes), config)
    head_callbacks = stage_callbacks("head", tensorboard_dir, checkpoint_dir)
    history = _fit(
        model, train_ds, val_ds, config.head_epochs, config.learning_rate, config, head_callbacks
    )
    metrics["head_val_accuracy"] = float(max(history.history["val_accuracy"]))
    curves = {"head": history_curves(history)}

    if config.fine_tune_epochs and config.fine_tune_layers:
        trainable = unfreeze_top(base, config.fine_tune_layers)
        log.info(
            "Fine-tuning the top %d layers of the base (%d trainable)",
            config.fine_tune_layers,
            trainable,
        )
        fine_tune_callbacks = stage_callbacks("fine_tune", tensorboard_dir, checkpoint_dir)
        history = _fit(
            model,
            train_ds,
            val_ds,
            config.fine_tune_epochs,
            config.fine_tune_learning_rate,
            config,
            fine_tune_callbacks,
        )
        metrics["fine_tune_val_accuracy"] = float(max(history.history["val_accuracy"]))
        curves["fine_tune"] = history_curves(history)

    metrics["val_accuracy"] = float(model.evaluate(val_ds, verbose=0)[1])
    log.info("Validation accuracy %.4f", metrics["val_accuracy"])
    export_image_classifier(
        model,
        model_dir,
        classes,
        config.image_size,
        metadata={
            "task": "image_classification",
            "training_params": dataclasses.asdict(config),
            "training_metrics": metrics,
            "training_curves": curves,
            "dataset": {
                "source_uri": manifest["source_uri"],
                "manifest_sha256": hashlib.sha256(
                    (Path(dataset_dir) / MANIFEST).read_bytes()
                ).hexdigest(),
                "train_examples": len(train_paths),
                "validation_examples": len(val_paths),
            },
        },
    )
    return metrics


def cross_validate(
    paths: list[str], labels: list[int], num_classes: int, config: VisionTrainConfig
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
        train_ds = _dataset(list(paths_arr[~held]), list(labels_arr[~held]), config, training=True)
        val_ds = _dataset(list(paths_arr[held]), list(labels_arr[held]), config, training=False)
        model, _ = _new_model(num_classes, config)
        _fit(model, train_ds, val_ds, config.head_epochs, config.learning_rate, config)
        scores.append(float(model.evaluate(val_ds, verbose=0)[1]))
        log.info("Fold %d/%d: validation accuracy %.4f", fold + 1, config.cv_folds, scores[-1])
    return {
        "cv_accuracy_mean": float(np.mean(scores)),
        "cv_accuracy_std": float(np.std(scores)),
        "cv_fold_accuracies": scores,
    }


def _dataset(paths, labels, config: VisionTrainConfig, training: bool) -> tf.data.Dataset:
    return make_dataset(
        paths,
        labels,
        config.image_size,
        config.batch_size,
        training=training,
        augmentation=config.augmentation if training else None,
        seed=config.seed,
    )


def _new_model(
    num_classes: int, config: VisionTrainConfig
) -> tuple[tf.keras.Model, tf.keras.Model]:
    base = build_base(config.base_model, config.base_weights, config.image_size)
    model = build_classifier(
        base, config.base_model, num_classes, config.image_size, config.head_units, config.dropout
    )
    return model, base


def _fit(
    model, train_ds, val_ds, epochs: int, learning_rate: float, config: VisionTrainConfig, extra=()
):
    """Compile and fit one stage; `extra` callbacks run after early stopping's."""
    model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    stop = tf.keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=config.early_stopping_patience, restore_best_weights=True
    )
    return model.fit(
        train_ds, validation_data=val_ds, epochs=epochs, callbacks=[stop, *extra], verbose=2
    )
