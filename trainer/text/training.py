"""Train the hub-embedding text classifier on an ingested text dataset.

The hub handle is checked first (it loads and embeds strings), so a wrong
handle fails before any training. Training stops early on the validation
split's loss and keeps the best weights; the export takes raw strings.
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
from trainer.data_validation.baseline import data_attachments
from trainer.distribution.sharding import shard_by_data
from trainer.distribution.strategy import distribution_for
from trainer.distribution.training_stages import TrainingStages
from trainer.text.config import TextTrainConfig
from trainer.text.export import export_text_classifier
from trainer.text.hub_handles import check_text_embedding
from trainer.text.ingest import read_text_manifest, read_text_split
from trainer.text.model import build_text_classifier

log = logging.getLogger(__name__)

TASK = "text_classification"


def train_text_classifier(
    dataset_dir: str | Path,
    model_dir: str | Path,
    config: TextTrainConfig,
    tensorboard_dir: str | Path | None = None,
    checkpoint_dir: str | Path | None = None,
    data_baseline_dir: str | Path | None = None,
) -> dict:
    """Train on 'train' (early stopping on 'validation') and export to `model_dir`.

    Returns the training metrics written into the model's metadata.
    """
    config.check()
    distribution = distribution_for(config.strategy)  # before any other TensorFlow op
    refuse_finished_model(model_dir)  # before training, not after
    embedding_size = check_text_embedding(config.hub_handle)
    manifest = read_text_manifest(dataset_dir)
    classes = manifest["classes"]
    batch = distribution.global_batch_size(config.batch_size)
    train_ds, train_count = _dataset(dataset_dir, "train", classes, batch, config.seed)
    val_ds, val_count = _dataset(dataset_dir, "validation", classes, batch, None)
    log.info(
        "Training on %d texts, validating on %d, %d classes; embedding %s (%d dims, %s)",
        train_count,
        val_count,
        len(classes),
        config.hub_handle,
        embedding_size,
        "fine-tuned" if config.trainable else "frozen",
    )

    learning_rate = distribution.learning_rate(config.learning_rate, config.learning_rate_scaling)
    with distribution.strategy.scope():
        tf.keras.utils.set_random_seed(config.seed)
        model = build_text_classifier(
            config.hub_handle,
            len(classes),
            config.trainable,
            config.hidden_units,
            config.dropout,
            learning_rate,
        )
    stages = TrainingStages(
        distribution, tensorboard_dir, checkpoint_dir, config.checkpoint_every_steps
    )
    record = stages.fit(
        "train", model, train_ds, val_ds, config.epochs, config.early_stopping_patience
    )
    val_loss, val_accuracy = model.evaluate(val_ds, verbose=0)
    metrics = {
        "val_accuracy": float(val_accuracy),
        "val_loss": float(val_loss),
        "epochs_trained": len(record["curves"]["loss"]),
    }
    log.info("Validation accuracy %.4f", val_accuracy)
    with distribution.writer_dir(model_dir) as export_dir:
        export_text_classifier(
            model,
            export_dir,
            classes,
            metadata={
                "task": TASK,
                "training_params": dataclasses.asdict(config),
                "training_metrics": metrics,
                "training_curves": record["curves"],
                "distribution": distribution.summary(
                    config.batch_size, config.learning_rate, config.learning_rate_scaling
                ),
                "embedding_size": embedding_size,
                "dataset": {
                    "source_uri": manifest["source_uri"],
                    "manifest_sha256": hashlib.sha256(
                        (Path(dataset_dir) / "manifest.json").read_bytes()
                    ).hexdigest(),
                    "train_examples": train_count,
                    "validation_examples": val_count,
                },
            },
            attachments=data_attachments(data_baseline_dir),
        )
    stages.clear()
    return metrics


def label_ids(labels: list[str], classes: list[str]) -> np.ndarray:
    """Class indices of `labels`; a label outside `classes` is an error naming it."""
    index = {name: i for i, name in enumerate(classes)}
    unknown = sorted(set(labels) - set(index))
    if unknown:
        raise InputError(
            f"Labels {unknown[:3]} are not among the dataset's classes {classes}: re-ingest."
        )
    return np.array([index[label] for label in labels], dtype=np.int64)


def _dataset(
    dataset_dir: str | Path, split: str, classes: list[str], batch_size: int, seed: int | None
) -> tuple[tf.data.Dataset, int]:
    """One split, batched with the global batch; shuffled when `seed` is given."""
    texts, labels = read_text_split(dataset_dir, split)
    if not texts:
        raise InputError(f"The {split} split of {dataset_dir} is empty: re-ingest with more data.")
    ds = tf.data.Dataset.from_tensor_slices(
        (np.array(texts, dtype=object), label_ids(labels, classes))
    )
    if seed is not None:
        ds = ds.shuffle(len(texts), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    return shard_by_data(ds, f"{split} texts"), len(texts)
