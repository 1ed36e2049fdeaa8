"""Train the stacked-LSTM forecaster on an ingested series, with time-ordered cross-validation.

1. The series is re-indexed to a regular grid and imputed (`trainer.timeseries.series`);
   a series, or a range of it, more imputed than `max_imputed_fraction` is refused
   before any training (`trainer.timeseries.imputed_share`).
2. The last `test_fraction` of it is the test range: never trained on, scored
   by the evaluation step.
3. Rolling-origin folds over the rest (`trainer.timeseries.folds`): each fold trains
   on everything before its validation block, with normalisation statistics
   fitted on that training range only, and stops early on the block. The
   folds say how well the model generalises forward in time, and how many
   epochs it needs.
4. The final model trains on everything before the test range for the median
   number of epochs the folds chose (`epochs` without folds), and is exported
   to take raw values and return forecasts in the series' units.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from pathlib import Path

import numpy as np
import tensorflow as tf

from serving.contracts.model_metadata import refuse_finished_model
from trainer.data_validation.baseline import data_attachments
from trainer.distribution.sharding import shard_by_data
from trainer.distribution.strategy import Distribution, distribution_for
from trainer.distribution.training_stages import TrainingStages
from trainer.timeseries.config import TimeseriesTrainConfig
from trainer.timeseries.export import export_forecaster
from trainer.timeseries.folds import Fold, rolling_origin_folds, test_split
from trainer.timeseries.imputed_share import check_imputed_share
from trainer.timeseries.model import build_forecasting_model
from trainer.timeseries.series import Series, read_series
from trainer.timeseries.windowing import Normalizer, features, windowed_dataset

log = logging.getLogger(__name__)

TASK = "time_series_forecasting"
SERIES_COUNTS = (
    "points",
    "missing_timestamps",
    "missing_values",
    "imputed",
    "duplicate_timestamps",
    "unsorted_rows",
)
DATASET_MANIFEST = "manifest.json"


def train_forecaster(
    dataset_dir: str | Path,
    model_dir: str | Path,
    config: TimeseriesTrainConfig,
    tensorboard_dir: str | Path | None = None,
    checkpoint_dir: str | Path | None = None,
    data_baseline_dir: str | Path | None = None,
) -> dict:
    """Cross-validate, train the final model on all but the test range, export to `model_dir`.

    Returns the training metrics written into the model's metadata.
    """
    config.check()
    distribution = distribution_for(config.strategy)  # before any other TensorFlow op
    refuse_finished_model(model_dir)  # before training, not after
    series = read_series(
        dataset_dir,
        config.time_column,
        config.target_column,
        frequency=config.frequency,
        imputation=config.imputation,
    )
    test_start = test_split(len(series.values), config.test_fraction, config.spec)
    folds = rolling_origin_folds(test_start, config.cv_folds, config.spec)
    check_imputed_share(series, test_start, config.max_imputed_fraction, folds)
    log.info(
        "Series of %d points (%s to %s, every %s, %d imputed); test range starts at %s",
        len(series.values),
        series.report["start"],
        series.report["end"],
        series.frequency,
        series.report["imputed"],
        np.datetime_as_string(series.timestamps[test_start]),
    )

    # What re-indexing found and filled in, also in the model's metadata ("series").
    metrics: dict = {f"series_{name}": series.report[name] for name in SERIES_COUNTS}
    stages = TrainingStages(
        distribution, tensorboard_dir, checkpoint_dir, config.checkpoint_every_steps
    )
    curves: dict = {}
    epochs = config.epochs
    if folds:
        records = [_validate_fold(series, fold, config, distribution, stages) for fold in folds]
        maes = [record["mae"] for record in records]
        best_epochs = [record["best_epoch"] for record in records]
        curves.update({f"fold_{f.index}": r["curves"] for f, r in zip(folds, records, strict=True)})
        epochs = max(1, int(np.median(best_epochs)))
        metrics.update(
            {
                "cv_mae_mean": float(np.mean(maes)),
                "cv_mae_std": float(np.std(maes)),
                "cv_fold_maes": maes,
                "cv_best_epochs": best_epochs,
            }
        )
        log.info("Cross-validation MAE %.4f ± %.4f", np.mean(maes), np.std(maes))

    normalizer = Normalizer.fit(series.values[:test_start])
    train_ds = _dataset(series, normalizer, config, distribution, 0, test_start, shuffle=True)
    model = _new_model(config, distribution)
    log.info("Final model: %d epochs on the %d points before the test range", epochs, test_start)
    record = stages.run(
        "final",
        model,
        fit=lambda callbacks: model.fit(train_ds, epochs=epochs, callbacks=callbacks, verbose=2),
    )
    curves["final"] = record["curves"]
    metrics["final_epochs"] = epochs
    metrics["train_mae"] = float(record["curves"]["mae"][-1] * normalizer.std)

    with distribution.writer_dir(model_dir) as export_dir:
        export_forecaster(
            model,
            export_dir,
            normalizer,
            config.window,
            config.horizon,
            metadata={
                "task": TASK,
                "training_params": dataclasses.asdict(config),
                "training_metrics": metrics,
                "training_curves": curves,
                "distribution": distribution.summary(
                    config.batch_size, config.learning_rate, config.learning_rate_scaling
                ),
                "series": series.report,
                "test_start": test_start,
                "test_start_time": str(np.datetime_as_string(series.timestamps[test_start])),
                "folds": [dataclasses.asdict(fold) for fold in folds],
                "dataset": {
                    "manifest_sha256": hashlib.sha256(
                        (Path(dataset_dir) / DATASET_MANIFEST).read_bytes()
                    ).hexdigest(),
                },
            },
            attachments=data_attachments(data_baseline_dir),
        )
    stages.clear()
    return metrics


def _validate_fold(
    series: Series,
    fold: Fold,
    config: TimeseriesTrainConfig,
    distribution: Distribution,
    stages: TrainingStages,
) -> dict:
    """Train on the fold's past, early-stop on its block: {mae (series units), best_epoch}."""
    normalizer = Normalizer.fit(series.values[: fold.train_end])
    train_ds = _dataset(series, normalizer, config, distribution, 0, fold.train_end, shuffle=True)
    val_ds = _dataset(
        series,
        normalizer,
        config,
        distribution,
        fold.validation_start,
        fold.validation_end,
        shuffle=False,
    )
    model = _new_model(config, distribution)

    def summarize(history: tf.keras.callbacks.History) -> dict:
        best = int(np.argmin(history.history["val_loss"]))
        return {
            "mae": float(history.history["val_mae"][best] * normalizer.std),
            "best_epoch": best + 1,
        }

    record = stages.fit(
        f"fold_{fold.index}",
        model,
        train_ds,
        val_ds,
        config.epochs,
        config.early_stopping_patience,
        summarize=summarize,
        keep_weights=False,
    )
    log.info(
        "Fold %d: train on [0, %d), validate on [%d, %d): MAE %.4f at epoch %d",
        fold.index,
        fold.train_end,
        fold.validation_start,
        fold.validation_end,
        record["mae"],
        record["best_epoch"],
    )
    return record


def _dataset(
    series: Series,
    normalizer: Normalizer,
    config: TimeseriesTrainConfig,
    distribution: Distribution,
    targets_from: int,
    targets_to: int,
    shuffle: bool,
) -> tf.data.Dataset:
    # Validation windows use every position (stride 1); `stride` thins training windows only.
    spec = config.spec if shuffle else dataclasses.replace(config.spec, stride=1)
    dataset = windowed_dataset(
        features(series.values, series.imputed, normalizer),
        normalizer.normalize(series.values).astype(np.float32),
        spec,
        targets_from,
        targets_to,
        batch_size=distribution.global_batch_size(config.batch_size),
        shuffle=shuffle,
        seed=config.seed,
    )
    return shard_by_data(dataset, f"windows [{targets_from}, {targets_to})")


def _new_model(config: TimeseriesTrainConfig, distribution: Distribution) -> tf.keras.Model:
    with distribution.strategy.scope():
        tf.keras.utils.set_random_seed(config.seed)
        return build_forecasting_model(
            config.window,
            2,
            config.horizon,
            config.lstm_units,
            config.lstm_layers,
            config.dropout,
            distribution.learning_rate(config.learning_rate, config.learning_rate_scaling),
        )
