"""Tuning (before training): the training settings a trial of the timeseries study starts from."""

from kfp import dsl

from components.container_images import PIPELINE_IMAGE


@dsl.component(base_image=PIPELINE_IMAGE, install_kfp_package=False)
def trial_settings(
    time_column: str = "ts",
    target_column: str = "value",
    frequency: str = "",
    imputation: str = "interpolate",
    max_imputed_fraction: float = 0.2,
    window: int = 48,
    horizon: int = 1,
    stride: int = 1,
    lstm_units: int = 50,
    lstm_layers: int = 2,
    dropout: float = 0.2,
    batch_size: int = 64,
    epochs: int = 20,
    learning_rate: float = 0.001,
    early_stopping_patience: int = 3,
    test_fraction: float = 0.1,
    cv_folds: int = 3,
    seed: int = 42,
    strategy: str = "auto",
    learning_rate_scaling: str = "linear",
    checkpoint_every_steps: int = 0,
) -> dict:
    """The pipeline's training settings as one value, checked, for the tuning step.

    Out: TimeseriesTrainConfig's fields by name (the trials cap them to the case's budget and set
    the searched ones, trainer/timeseries/tuning.py). The parameters are its fields, with its
    defaults, as in train.py.
    """
    import dataclasses

    from trainer.distribution.options import pick_fields
    from trainer.timeseries.config import TimeseriesTrainConfig

    config = TimeseriesTrainConfig(**pick_fields(TimeseriesTrainConfig, locals()))
    config.check()
    return dataclasses.asdict(config)
